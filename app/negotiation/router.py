import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, status
from fastapi.responses import JSONResponse

from app.auth.deps import Authorized, DbSession
from app.auth.permissions import Permission
from app.core.idempotency import run_idempotently
from app.negotiation import service
from app.negotiation.schemas import NegotiationOut, OfferAccepted, OfferIn, PolicyIn, PolicyOut

router = APIRouter(tags=["negotiation"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=255)]
PackageCode = Annotated[str | None, Query(max_length=64, description="A package's own policy; without it, the "
                                                                     "tenant's default")]


@router.get("/policies/negotiation", response_model=PolicyOut)
def read_policy(session: DbSession, ctx: Authorized[Permission.read], package_code: PackageCode = None) -> PolicyOut:
    """The policy in force: the package's own, else the tenant's default, else the built-in one (`source`
    says which); `overrides` lists the packages with a policy of their own."""
    return service.read_policy(session, ctx, package_code)


@router.put("/policies/negotiation", response_model=PolicyOut,
            responses={422: {"description": "Invalid values, an unknown package, or a floor on the default policy"}})
def put_policy(body: PolicyIn, session: DbSession, ctx: Authorized[Permission.manage_tenant],
               package_code: PackageCode = None) -> PolicyOut:
    return service.put_policy(session, ctx, package_code, body)


@router.delete("/policies/negotiation", status_code=status.HTTP_204_NO_CONTENT)
def delete_policy(session: DbSession, ctx: Authorized[Permission.manage_tenant],
                  package_code: PackageCode = None) -> None:
    service.delete_policy(session, ctx, package_code)


@router.post("/deals/{deal_id}/offers", status_code=status.HTTP_202_ACCEPTED, response_model=OfferAccepted,
             responses={409: {"description": "The deal is won or lost, its proposal was not approved, our answer "
                                             "to the last counter-offer is pending, or the key is in flight"},
                        422: {"description": "Invalid amount or currency, or an Idempotency-Key reused with another "
                                             "body"}})
def post_offer(deal_id: uuid.UUID, body: OfferIn, session: DbSession, ctx: Authorized[Permission.operate_runs],
               idempotency_key: IdempotencyKey = None) -> JSONResponse:
    """The client's move: a counter-offer (answered by a negotiation run, started in the same transaction),
    an acceptance (the deal is won at our standing offer) or walking away (lost)."""
    def produce() -> tuple[int, dict]:
        accepted = service.post_offer(session, ctx, deal_id, body)
        return status.HTTP_202_ACCEPTED, accepted.model_dump(mode="json")

    result = run_idempotently(session, ctx, key=idempotency_key, scope=f"deals/{deal_id}/offers",
                              body=body.model_dump(mode="json"), produce=produce)
    session.commit()
    return JSONResponse(result.body, status_code=result.status, headers=result.headers)


@router.get("/deals/{deal_id}/negotiation", response_model=NegotiationOut)
def read_negotiation(deal_id: uuid.UUID, session: DbSession, ctx: Authorized[Permission.read]) -> NegotiationOut:
    """Every round of the deal, the client's and ours, with what code changed and why, and the policy in force."""
    return service.read_negotiation(session, ctx, deal_id)
