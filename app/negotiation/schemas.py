import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, field_validator, model_validator

from app.core.money import Amount, Currency, NonNegativeAmount, PositiveAmount
from app.negotiation.policy import Concession
from app.negotiation.state import ClientMove

Percent = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=5, decimal_places=2,
          description="A percentage from 0 to 100 with at most two decimals; a string in responses"),
    PlainSerializer(lambda value: format(value.quantize(Decimal("0.01")), "f"), return_type=str, when_used="json"),
]
PolicySource = Literal["package", "tenant", "built_in"]


def _unique(values: list[Any]) -> list[Any]:
    repeated = sorted({str(value) for value in values if values.count(value) > 1})
    if repeated:
        raise ValueError(f"listed more than once: {', '.join(repeated)}")
    return values


# --- the policy -------------------------------------------------------------------------------------


class PolicyIn(BaseModel):
    """The whole policy (PUT replaces it); a field left out takes its default."""

    model_config = ConfigDict(extra="forbid")

    floor_price: NonNegativeAmount | None = Field(
        None, description="Never offer below this, in the package's currency; only on a package's policy")
    currency: Currency | None = Field(
        None, description="Optional: the floor's currency, which must be the package's")
    max_discount_pct: Percent = Field(Decimal(15), description="Never more than this off the list price")
    approval_threshold_pct: Percent = Field(
        Decimal(10), description="An offer with a greater discount waits for a reviewer; at most max_discount_pct")
    max_rounds: int = Field(3, ge=1, le=20, description="Our offers before the negotiation is escalated; "
                                                        "the last one waits for a reviewer")
    allowed_concessions: list[Concession] = Field(
        default_factory=lambda: list(Concession), max_length=len(Concession),
        description="What we may ask in exchange for a lower price")

    _distinct = field_validator("allowed_concessions")(_unique)

    @model_validator(mode="after")
    def _threshold_within_discount(self) -> "PolicyIn":
        if self.approval_threshold_pct > self.max_discount_pct:
            raise ValueError(f"approval_threshold_pct ({self.approval_threshold_pct}) cannot exceed "
                             f"max_discount_pct ({self.max_discount_pct}): an offer past the maximum is never made")
        return self


class PolicyOut(BaseModel):
    package_code: str = Field(description="'*' for the tenant's default, else the package the policy is for")
    source: PolicySource = Field(description="package: the package's own policy; tenant: the tenant's default; "
                                             "built_in: none was set")
    floor_price: Amount | None
    currency: str | None = Field(description="The floor's currency (the package's); null without a floor")
    max_discount_pct: Percent
    approval_threshold_pct: Percent
    max_rounds: int
    allowed_concessions: list[str]
    updated_at: datetime | None
    overrides: list[str] = Field(description="The packages with a policy of their own")


# --- the client's move --------------------------------------------------------------------------------


class OfferTerms(BaseModel):
    """What the client offers or asks with their move."""

    model_config = ConfigDict(extra="forbid")

    concessions: list[Concession] = Field(default_factory=list, max_length=len(Concession),
                                          description="What the client offers in exchange for the price")
    term_months: int | None = Field(None, ge=1, le=120)
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] = ""

    _distinct = field_validator("concessions")(_unique)


class OfferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ClientMove
    amount: PositiveAmount | None = Field(
        None, description="counter: the client's price (required); accept: optional, must be our standing offer")
    currency: Currency | None = Field(None, description="Defaults to the deal's; any other is refused")
    terms: OfferTerms = Field(default_factory=OfferTerms)
    message: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] = ""

    @model_validator(mode="after")
    def _amount_fits_the_move(self) -> "OfferIn":
        if self.kind is ClientMove.counter and self.amount is None:
            raise ValueError("a counter-offer needs an amount")
        if self.kind is ClientMove.walk_away and self.amount is not None:
            raise ValueError("walking away takes no amount")
        return self


class RoundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    round: int
    side: str
    kind: str
    amount: Amount | None
    currency: str
    discount_pct: Percent | None = Field(description="Off the list price")
    terms: dict[str, Any]
    message: str
    status: str
    model_amount: Amount | None = Field(description="Ours: the price the model proposed, before code's guards")
    clamped: bool
    clamp_reasons: list[dict[str, Any]]
    review_reasons: list[dict[str, Any]] = Field(description="Ours: why it waits (or waited) for a reviewer")
    reasoning: str | None = Field(description="Ours: the model's reasoning, for the reviewer")
    policy: dict[str, Any] | None = Field(description="The policy in force when the round was made")
    run_id: uuid.UUID | None
    review_id: uuid.UUID | None
    created_by_type: str
    created_by_id: uuid.UUID | None
    created_at: datetime


class DealState(BaseModel):
    id: uuid.UUID
    stage: str
    package_code: str
    currency: str
    list_price: Amount
    amount: Amount = Field(description="Our standing offer (the won price once accepted)")
    pipeline_id: uuid.UUID | None


class RunRef(BaseModel):
    id: uuid.UUID
    status: str


class OfferAccepted(BaseModel):
    """The answer to a client's move: the round recorded, the deal as it is now, and the run that answers
    a counter-offer."""

    deal: DealState
    round: RoundOut
    run: RunRef | None


class NegotiationOut(BaseModel):
    deal: DealState
    policy: PolicyOut = Field(description="The policy in force for the deal's package now")
    standing_offer: Amount = Field(description="What the client can accept now")
    waiting_for: str | None = Field(description="What the negotiation waits for; null once won or lost")
    rounds: list[RoundOut] = Field(description="Every round, oldest first, the client's move before our answer")


# --- our offer under review ------------------------------------------------------------------------------


class OfferContent(BaseModel):
    """What a reviewer sees in an `offer` review. Only the message may be edited: the price, its terms and
    the reasons were settled by code."""

    model_config = ConfigDict(extra="forbid")

    deal_id: uuid.UUID
    round: int
    amount: Amount
    currency: Currency
    list_price: Amount
    discount_pct: Percent
    concessions: list[str]
    final: bool = Field(description="No lower offer was possible: the standing offer restated as final")
    client_amount: Amount | None
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    reasoning: str
    clamp_reasons: list[dict[str, str]]
    review_reasons: list[dict[str, str]]


# --- what the negotiation agent reads ---------------------------------------------------------------------


class CounterToAnswer(BaseModel):
    """A client's counter-offer and everything an answer to it depends on."""

    deal_id: uuid.UUID
    round: int
    pipeline_id: uuid.UUID | None
    client_name: str
    client_company: str | None
    package_code: str
    package_name: str
    billing_period: str | None
    currency: str
    list_price: Amount
    standing_offer: Amount
    sent_offers: list[Amount]
    client_amount: Amount
    client_terms: dict[str, Any]
    client_message: str
    history: list[dict[str, Any]] = Field(description="What the client has seen: their moves and our sent offers")
    policy: dict[str, Any] = Field(description="The policy in force (app.negotiation.policy.snapshot)")
