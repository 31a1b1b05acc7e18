import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.auth.deps import Authorized, CurrentContext, DbSession
from app.auth.permissions import Permission
from app.webhooks import service
from app.webhooks.schemas import (
    DeliveryOut, DeliveryPage, WebhookCreate, WebhookCreated, WebhookOut, WebhookPage, WebhookUpdate,
)

router = APIRouter(prefix="/webhooks", tags=["webhooks"])


@router.post("", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED)
def create_webhook(body: WebhookCreate, session: DbSession, ctx: Authorized[Permission.manage_tenant]):
    """The response carries the signing secret; it is never shown again."""
    return service.create_endpoint(session, ctx, body)


@router.get("", response_model=WebhookPage)
def list_webhooks(session: DbSession, ctx: Authorized[Permission.manage_tenant], cursor: str | None = None,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50) -> WebhookPage:
    endpoints, next_cursor = service.list_endpoints(session, ctx, limit=limit, cursor=cursor)
    return WebhookPage(items=[WebhookOut.model_validate(endpoint) for endpoint in endpoints], next_cursor=next_cursor)


@router.get("/{webhook_id}", response_model=WebhookOut)
def read_webhook(webhook_id: uuid.UUID, session: DbSession, ctx: CurrentContext):
    return service.get_endpoint(session, ctx, webhook_id)


@router.patch("/{webhook_id}", response_model=WebhookOut)
def update_webhook(webhook_id: uuid.UUID, body: WebhookUpdate, session: DbSession, ctx: CurrentContext):
    return service.update_endpoint(session, ctx, webhook_id, body)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: uuid.UUID, session: DbSession, ctx: CurrentContext) -> None:
    service.delete_endpoint(session, ctx, webhook_id)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryPage)
def list_deliveries(webhook_id: uuid.UUID, session: DbSession, ctx: CurrentContext, cursor: str | None = None,
                    limit: Annotated[int, Query(ge=1, le=200)] = 50) -> DeliveryPage:
    """The newest deliveries first, each with every attempt (status code, latency, response excerpt)."""
    deliveries, next_cursor = service.list_deliveries(session, ctx, webhook_id, limit=limit, cursor=cursor)
    return DeliveryPage(items=deliveries, next_cursor=next_cursor)


@router.post("/{webhook_id}/deliveries/{delivery_id}/resend", response_model=DeliveryOut,
             status_code=status.HTTP_202_ACCEPTED)
def resend_delivery(webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: DbSession, ctx: CurrentContext):
    return service.resend(session, ctx, webhook_id, delivery_id)
