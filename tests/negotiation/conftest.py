from tests.agents.conftest import llm_env, world  # noqa: F401  (the agents' committed world and model settings)
