"""Declarative batch files (`runq dag run FILE`): parse and validate, plan, submit through the client, follow."""
