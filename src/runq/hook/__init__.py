"""Agent hooks: route an agent's shell commands through runq without changing what it sees."""
