"""Python client of the Agentline API: `Agentline` (blocking) and `AsyncAgentline` (asyncio)."""

from agentline_client._auth import ApiKey, Auth, Tokens
from agentline_client._client import Agentline, AsyncAgentline
from agentline_client._retry import RetryPolicy
from agentline_client._sse import ServerSentEvent, SSEDecoder
from agentline_client._version import __version__
from agentline_client.errors import (
    AgentlineError, APIConnectionError, APIError, APITimeoutError, AuthenticationError, ConflictError, FieldError,
    NotFoundError, PermissionDeniedError, RateLimitedError, ServerError, ValidationError, WaitTimeoutError,
)

__all__ = [
    "APIConnectionError", "APIError", "APITimeoutError", "AgentlineError", "Agentline", "ApiKey", "AsyncAgentline",
    "Auth", "AuthenticationError", "ConflictError", "FieldError", "NotFoundError", "PermissionDeniedError",
    "RateLimitedError", "RetryPolicy", "SSEDecoder", "ServerError", "ServerSentEvent", "Tokens", "ValidationError",
    "WaitTimeoutError", "__version__",
]
