"""Routes of device links: the mailbox between a member's existing device and a new one
(`services.links`)."""

from __future__ import annotations

from typing import Annotated

from litestar import Router, delete, get, post, put
from litestar.params import JSONBody, Parameter

from ..guards import DeviceDep, ServicesDep
from ..ids import path_id
from ..lean_route import LeanRoute
from ..openapi import responses
from ..services import links
from ..wire import (
    Escrow,
    LinkAnswer,
    LinkAuth,
    LinkHandoverBody,
    LinkInfo,
    LinkSlot,
    OpenLink,
    PutEscrow,
)

LinkIdParam = Annotated[
    str, Parameter(description="The link id: unpadded base64url of 32 bytes (43 characters).")
]


def _link_id(value: str) -> bytes:
    return path_id(value, 32, "link_id")


async def _open_link(
    data: JSONBody[OpenLink], device: DeviceDep, services: ServicesDep
) -> LinkInfo:
    return await links.open_link(services, device, data)


open_link = post(
    "",
    summary="Open a device link (an existing device)",
    description="Stores the sealed offer and the verifier of the link's access key; the link "
    "lives ten minutes.",
    status_code=201,
    responses=responses(400, 401, 409, 413, 422, 429),
    security=[{"bearer": []}],
    middleware=[LeanRoute(_open_link, OpenLink)],
)(_open_link)


# The new device has no login: LeanRoute spends the address's allowance (`rate_auth`) before
# its body is read, and the access key it shows is checked against the link's verifier.
async def _read_offer(
    link_id: LinkIdParam, data: JSONBody[LinkAuth], services: ServicesDep
) -> LinkSlot:
    return await links.read_offer(services, _link_id(link_id), data)


read_offer = post(
    "/{link_id:str}/offer",
    summary="Read the offer (the new device; no login, the access key instead)",
    status_code=200,
    responses=responses(400, 404, 409, 410, 413, 429),
    middleware=[LeanRoute(_read_offer, LinkAuth)],
)(_read_offer)


async def _post_request(
    link_id: LinkIdParam, data: JSONBody[LinkAnswer], services: ServicesDep
) -> LinkInfo:
    return await links.post_request(services, _link_id(link_id), data)


post_request = post(
    "/{link_id:str}/request",
    summary="Answer a link (the new device; written once)",
    status_code=201,
    responses=responses(400, 404, 409, 410, 413, 429),
    middleware=[LeanRoute(_post_request, LinkAnswer)],
)(_post_request)


@get(
    "/{link_id:str}/request",
    summary="Read the new device's answer (the device that opened the link)",
    responses=responses(400, 401, 404, 409, 410, 429),
    security=[{"bearer": []}],
)
async def read_request(link_id: LinkIdParam, device: DeviceDep, services: ServicesDep) -> LinkSlot:
    return await links.read_request(services, device, _link_id(link_id))


async def _post_handover(
    link_id: LinkIdParam, data: JSONBody[LinkHandoverBody], device: DeviceDep, services: ServicesDep
) -> LinkInfo:
    return await links.post_handover(services, device, _link_id(link_id), data)


post_handover = post(
    "/{link_id:str}/handover",
    summary="Complete a link (the device that opened it; written once)",
    status_code=201,
    responses=responses(400, 401, 404, 409, 410, 413, 429),
    security=[{"bearer": []}],
    middleware=[LeanRoute(_post_handover, LinkHandoverBody)],
)(_post_handover)


async def _read_handover(
    link_id: LinkIdParam, data: JSONBody[LinkAuth], services: ServicesDep
) -> LinkSlot:
    return await links.read_handover(services, _link_id(link_id), data)


read_handover = post(
    "/{link_id:str}/handover/read",
    summary="Read the handover (the new device); this spends the link",
    status_code=200,
    responses=responses(400, 404, 409, 410, 413, 429),
    middleware=[LeanRoute(_read_handover, LinkAuth)],
)(_read_handover)


@delete(
    "/{link_id:str}",
    summary="Withdraw a link (the device that opened it)",
    status_code=204,
    responses=responses(400, 401, 404, 429),
    security=[{"bearer": []}],
)
async def close_link(link_id: LinkIdParam, device: DeviceDep, services: ServicesDep) -> None:
    await links.close_link(services, device, _link_id(link_id))


async def _put_escrow(data: JSONBody[PutEscrow], device: DeviceDep, services: ServicesDep) -> None:
    await links.put_escrow(services, device, data)


put_escrow = put(
    "",
    summary="Store this device's recovery escrow (a kit's device)",
    status_code=204,
    responses=responses(400, 401, 403, 413, 429),
    security=[{"bearer": []}],
    middleware=[LeanRoute(_put_escrow, PutEscrow)],
)(_put_escrow)


@get(
    "",
    summary="Read this device's recovery escrow (a kit's device, when recovering)",
    responses=responses(401, 404, 429),
    security=[{"bearer": []}],
)
async def read_escrow(device: DeviceDep, services: ServicesDep) -> Escrow:
    return await links.read_escrow(services, device)


escrow_router = Router(
    path="/v1/escrow", route_handlers=[put_escrow, read_escrow], tags=["devices"]
)

links_router = Router(
    path="/v1/links",
    route_handlers=[
        open_link,
        read_offer,
        post_request,
        read_request,
        post_handover,
        read_handover,
        close_link,
    ],
    tags=["devices"],
)
