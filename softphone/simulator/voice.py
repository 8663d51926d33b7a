"""The simulated carrier's calls: a customer's phone calling our numbers and answering our calls, the
browser softphone's simulated device ringing and placing calls, and VAPI answering an AI agent's
number, with the webhooks Twilio and VAPI send while a call lasts.

No audio is carried. What is simulated is what the product sees of a call: Twilio fetches the TwiML of
the number's voice URL (or of the TwiML App, for a browser's call) and follows it (`<Dial>` rings
`<Client>` devices or a customer's `<Number>`, `<Record>` takes a voicemail, `<Hangup>` ends), and
reports every step as Twilio does: each dialled leg's status callbacks (initiated, ringing, answered,
completed), the `<Dial>` action when the dial ends, the `<Record>` action and recording status callback,
and the parent call's final status callback to the number's (or the TwiML App's) status callback URL.
Everything is signed with the account's auth token and posted only to this installation's public address.

State: `VoiceNetwork`, one row of softphone.simulator's state ("voice"), beside the Twilio fake whose
Call resources it keeps up to date. Requests and posts never overlap: a step changes the state with
both rows locked and returns the webhooks to post, which are posted after the locks are released (the
product's answer to a webhook may call the simulated Twilio's API, which takes the same locks).
Timers (a dial's timeout, the end of a voicemail or of a talk with an AI agent) fire on the next
request that finds them due, and from a task scheduled for the moment they fall due.
"""

from __future__ import annotations

import logging
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
import requests

from . import carrier
from .network import VoiceNetwork
from .state import simulated
from .twilio_webhooks import browser_call, call_status, dial_action, incoming_call, recording, signature
from .vapi import VAPI_VOICE_URL

logger = logging.getLogger(__name__)

DEFAULT_DIAL_TIMEOUT = 30
VOICEMAIL_SECONDS = 4      # how long a simulated caller speaks after the beep
AI_TALK_SECONDS = 20       # how long a simulated caller talks with an AI agent, unless they hang up first
ENDED = frozenset({"completed", "busy", "no-answer", "canceled", "failed"})
CUSTOMER_BUSY = "+15005550009"  # a customer's line that is always busy (the dial ends "busy")


class VoiceError(Exception):
    """Why a simulated call, or a device's request, cannot go on (said to the person who asked)."""

    def __init__(self, message: str, status: int = 400, code: int | None = None):
        super().__init__(message)
        self.status, self.code = status, code


@dataclass(frozen=True)
class Post:
    """A webhook to post once the locks are released; `then` names the parent leg whose next TwiML the
    answer is (None: the answer is not read)."""
    url: str
    params: dict
    token: str
    then: str | None = None
    json_body: bytes | None = None
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Timer:
    """A moment something falls due (a dial's timeout, the end of a voicemail or of a talk with an AI
    agent): `deliver` has a tick scheduled for it."""
    at: float


@contextmanager
def _network() -> Iterator[tuple[object, VoiceNetwork]]:
    with simulated("twilio") as twilio, simulated("voice") as network:
        yield twilio, network


def _now() -> float:
    return time.time()


def _sid() -> str:
    return "CA" + uuid.uuid4().hex


# Legs ------------------------------------------------------------------------------------------------


def _leg(network: VoiceNetwork, twilio, *, account: str, from_: str, to: str, direction: str,
         parent: str | None = None, status: str = "ringing", rings: str = "", customer: str = "",
         status_url: str = "", events: frozenset = frozenset(), custom: dict | None = None,
         final_url: str = "") -> dict:
    """A new leg, known to Twilio's API too (its Call resource)."""
    sid = _sid()
    leg = {"sid": sid, "account": account, "parent": parent, "from": from_, "to": to, "direction": direction,
           "status": status, "created": _now(), "answered": None, "ended": None, "rings": rings,
           "customer": customer, "status_url": status_url, "events": events, "custom": custom or {},
           "sequence": 0, "final_url": final_url, "dial": None, "record": None, "ai": None, "digits": ""}
    network.legs[sid] = leg
    twilio.add_call(account, sid=sid, sender=from_, to=to, direction=direction, status=status,
                    parent_call_sid=parent)
    return leg


def _token(twilio, account: str) -> str:
    found = twilio.account(account)
    return found["auth_token"] if found else ""


def _progress(twilio, leg: dict, status: str, out: list[Post], *, event: str) -> None:
    """A dialled leg's status callback, when its `statusCallbackEvent` asked for this event."""
    if event not in leg["events"] or not leg["status_url"]:
        return
    duration = int(leg["ended"] - leg["answered"]) if leg["ended"] and leg["answered"] else (0 if leg["ended"] else None)
    params = call_status(account_sid=leg["account"], call_sid=leg["sid"], status=status, from_=leg["from"],
                         to=leg["to"], parent_call_sid=leg["parent"] or "", sequence=leg["sequence"],
                         duration=duration)
    leg["sequence"] += 1
    out.append(Post(leg["status_url"], params, _token(twilio, leg["account"])))


def _set_status(twilio, leg: dict, status: str) -> None:
    leg["status"] = status
    if status in ENDED and leg["ended"] is None:
        leg["ended"] = _now()
    twilio.set_call_status(leg["account"], leg["sid"], status,
                           duration=int(leg["ended"] - (leg["answered"] or leg["ended"])) if leg["ended"] else None)


def _end_child(twilio, leg: dict, status: str, out: list[Post]) -> None:
    if leg["status"] in ENDED:
        return
    _set_status(twilio, leg, status)
    _progress(twilio, leg, status, out, event="completed")


def _end_parent(twilio, network: VoiceNetwork, parent: dict, out: list[Post], *, status: str = "completed") -> None:
    """The call is over: what it still rang stops, and its final status goes to its status callback."""
    if parent["status"] in ENDED:
        return
    for sid in (parent["dial"] or {}).get("legs", []):
        child = network.legs[sid]
        _end_child(twilio, child, "completed" if child["status"] == "in-progress" else "canceled", out)
    parent["dial"] = parent["record"] = None
    if parent["answered"] is None and status == "completed":
        parent["answered"] = parent["created"]  # TwiML ran: Twilio answered the call
    _set_status(twilio, parent, status)
    if parent["final_url"] and not parent["ai"]:
        params = call_status(account_sid=parent["account"], call_sid=parent["sid"], status=status,
                             from_=parent["from"], to=parent["to"], sequence=parent["sequence"],
                             duration=int(parent["ended"] - parent["answered"]))
        parent["sequence"] += 1
        if parent["direction"] == "inbound" and parent["from"].startswith("client:"):
            params["Direction"] = "inbound"
        out.append(Post(parent["final_url"], params, _token(twilio, parent["account"])))


# TwiML -----------------------------------------------------------------------------------------------


def _run(twilio, network: VoiceNetwork, parent: dict, twiml: str, out: list[Post]) -> None:
    """The parent leg now follows this TwiML, as Twilio would."""
    if parent["status"] in ENDED:
        return
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError:
        logger.warning("simulator: TwiML for %s could not be read; the call ends", parent["sid"])
        _end_parent(twilio, network, parent, out, status="failed")
        return
    for verb in root:
        if verb.tag == "Dial":
            if verb.find("Conference") is not None:
                # The call moves into a conference (hold, transfer): Twilio's API side keeps it there.
                twilio.run(parent["account"], parent["sid"], twiml)
                parent["dial"], parent["status"] = None, "in-progress"
                return
            _dial(twilio, network, parent, verb, out)
            return
        if verb.tag == "Record":
            parent["answered"] = parent["answered"] or _now()
            _set_status(twilio, parent, "in-progress")
            parent["record"] = {"action": verb.get("action", ""), "status_url": verb.get("recordingStatusCallback", ""),
                                "ends_at": _now() + VOICEMAIL_SECONDS, "started": _now()}
            out.append(Timer(parent["record"]["ends_at"]))
            return
        if verb.tag in ("Hangup", "Reject"):
            break
    _end_parent(twilio, network, parent, out, status="busy" if root.find("Reject") is not None else "completed")


def _dial(twilio, network: VoiceNetwork, parent: dict, verb, out: list[Post]) -> None:
    timeout = int(verb.get("timeout") or DEFAULT_DIAL_TIMEOUT)
    dial = {"action": verb.get("action", ""), "timeout_at": _now() + timeout, "legs": [], "bridged": None,
            "caller_id": verb.get("callerId", "")}
    for noun in verb:
        if noun.tag not in ("Client", "Number"):
            continue
        identity = (noun.findtext("Identity") or noun.text or "").strip() if noun.tag == "Client" else ""
        number = (noun.text or "").strip() if noun.tag == "Number" else ""
        if not identity and not number:
            continue
        custom = {p.get("name", ""): p.get("value", "") for p in noun.findall("Parameter")}
        events = frozenset((noun.get("statusCallbackEvent") or "completed").split())
        leg = _leg(network, twilio, account=parent["account"], parent=parent["sid"], direction="outbound-dial",
                   from_=dial["caller_id"] or parent["from"], to=f"client:{identity}" if identity else number,
                   status="queued", rings=f"client:{identity}" if identity else number,
                   customer=number or parent["customer"], status_url=noun.get("statusCallback", ""),
                   events=events, custom=custom)
        dial["legs"].append(leg["sid"])
        _progress(twilio, leg, "initiated", out, event="initiated")
        if number == CUSTOMER_BUSY:
            _end_child(twilio, leg, "busy", out)
            continue
        _set_status(twilio, leg, "ringing")
        _progress(twilio, leg, "ringing", out, event="ringing")
    parent["dial"] = dial
    out.append(Timer(dial["timeout_at"]))
    if not dial["legs"] or all(network.legs[sid]["status"] in ENDED for sid in dial["legs"]):
        _dial_ended(twilio, network, parent, out)


def _dial_ended(twilio, network: VoiceNetwork, parent: dict, out: list[Post], *, caller_left: bool = False) -> None:
    """The `<Dial>` is over: its action says what the caller hears next (unless the caller is gone)."""
    dial = parent["dial"]
    if dial is None:
        return
    parent["dial"] = None
    legs = [network.legs[sid] for sid in dial["legs"]]
    bridged = network.legs.get(dial["bridged"]) if dial["bridged"] else None
    if bridged is not None:
        status, child = "completed", bridged
    else:
        statuses = {leg["status"] for leg in legs}
        status = "busy" if statuses == {"busy"} else "failed" if statuses == {"failed"} else \
            "canceled" if caller_left else "no-answer"
        child = legs[0] if legs else None
    if not dial["action"]:
        if not caller_left:
            _end_parent(twilio, network, parent, out)
        return
    duration = int(child["ended"] - child["answered"]) if child and child["answered"] and child["ended"] else None
    params = dial_action(account_sid=parent["account"], call_sid=parent["sid"], dial_status=status,
                         from_=parent["from"], to=parent["to"], dial_call_sid=child["sid"] if child else "",
                         duration=duration)
    if caller_left:
        params["CallStatus"] = "completed"
    out.append(Post(dial["action"], params, _token(twilio, parent["account"]),
                    then=None if caller_left else parent["sid"]))


# Timers ----------------------------------------------------------------------------------------------


def _due(twilio, network: VoiceNetwork, out: list[Post]) -> None:
    """Whatever fell due: dials nobody answered, voicemails finished, talks with an AI agent over."""
    now = _now()
    for parent in list(network.legs.values()):
        if parent["status"] in ENDED:
            continue
        dial = parent["dial"]
        if dial and not dial["bridged"] and now >= dial["timeout_at"]:
            for sid in dial["legs"]:
                _end_child(twilio, network.legs[sid], "no-answer", out)
            _dial_ended(twilio, network, parent, out)
        elif parent["record"] and now >= parent["record"]["ends_at"]:
            _voicemail_done(twilio, network, parent, out)
        elif parent["ai"] and now >= parent["ai"]["ends_at"]:
            _ai_done(twilio, network, parent, out, ended_reason="assistant-ended-call")
    # Ended calls are kept a while for the customer's phone and the device to see how they ended.
    for sid in [sid for sid, leg in network.legs.items() if leg["ended"] and now - leg["ended"] > 600]:
        del network.legs[sid]


def _voicemail_done(twilio, network: VoiceNetwork, parent: dict, out: list[Post]) -> None:
    """The caller stopped speaking (or hung up): the recording exists, the `<Record>` action and the
    recording status callback say so."""
    record = parent["record"]
    parent["record"] = None
    seconds = max(1, int(_now() - record["started"]))
    sid = "RE" + uuid.uuid4().hex
    twilio.add_recording(parent["account"], silence_mp3(seconds), sid=sid, call_sid=parent["sid"], duration=seconds)
    token = _token(twilio, parent["account"])
    if record["action"]:
        params = recording(account_sid=parent["account"], call_sid=parent["sid"], recording_sid=sid,
                           duration=seconds, action=True)
        params.update({"From": parent["from"], "To": parent["to"]})
        out.append(Post(record["action"], params, token, then=parent["sid"]))
    else:
        _end_parent(twilio, network, parent, out)
    if record["status_url"]:
        out.append(Post(record["status_url"], recording(account_sid=parent["account"], call_sid=parent["sid"],
                                                        recording_sid=sid, duration=seconds), token))


def silence_mp3(seconds: int) -> bytes:
    """`seconds` of silence as MPEG-1 Layer III, mono, 44.1 kHz, 128 kbit/s: frames of a header and
    nothing else (a frame whose side information is all zero decodes to silence)."""
    frame = b"\xff\xfb\x90\xc0" + bytes(417 - 4)
    return frame * max(1, round(seconds * 44100 / 1152))


def tick() -> list[Post]:
    out: list[Post] = []
    with _network() as (twilio, network):
        _due(twilio, network, out)
    return out


# Delivery --------------------------------------------------------------------------------------------


def deliver(out: list, schedule: Callable[[float], None] | None = None) -> None:
    """Post the webhooks, in order; TwiML answers are followed, and what they lead to posted in turn.
    A timer is handed to `schedule` (seconds from now), which runs `tick` then."""
    while out:
        post = out.pop(0)
        if isinstance(post, Timer):
            if schedule is not None:
                schedule(max(0.0, post.at - _now()))
            continue
        twiml = _post(post)
        if post.then is not None:
            more: list[Post] = []
            with _network() as (twilio, network):
                parent = network.legs.get(post.then)
                if parent is not None:
                    _run(twilio, network, parent, twiml if twiml is not None else "<Response><Hangup/></Response>", more)
            out[:0] = more


def _post(post: Post) -> str | None:
    if not carrier.ours(post.url):
        logger.info("simulator: not posting to %s (not this installation)", post.url)
        return None
    try:
        if post.json_body is not None:
            answer = requests.post(post.url, data=post.json_body, headers=dict(post.headers), timeout=10)
        else:
            answer = requests.post(post.url, data=post.params, timeout=10,
                                   headers={"X-Twilio-Signature": signature(post.url, post.params, post.token)})
    except requests.RequestException as exc:
        logger.warning("simulator: voice webhook %s failed: %s", post.url, exc)
        return None
    if answer.status_code >= 400:
        logger.info("simulator: %s answered %s", post.url, answer.status_code)
        return None
    return answer.text


# A customer's phone ----------------------------------------------------------------------------------


def call_from_customer(*, customer: str, to: str) -> tuple[str, list[Post]]:
    """A customer calls one of the simulated numbers: Twilio asks the number's voice URL what to do
    (or hands the call to VAPI, when VAPI took the number). Returns the call's sid and what to post."""
    out: list[Post] = []
    with _network() as (twilio, network):
        _due(twilio, network, out)
        if any(leg["customer"] == customer and leg["status"] not in ENDED for leg in network.legs.values()):
            raise VoiceError("This phone is already in a call: hang up first.")
        found = twilio.owner_of(to)
        if found is None:
            raise VoiceError(f"{to} is not a number of the simulated carrier.")
        account, number = found
        voice_url = number.get("voice_url") or ""
        if voice_url != VAPI_VOICE_URL and not carrier.ours(voice_url):
            raise VoiceError("Nobody answers: the number's voice URL is not this installation's (import the number first).")
        parent = _leg(network, twilio, account=account, from_=customer, to=to, direction="inbound",
                      customer=customer, final_url=number.get("status_callback") or "")
        if voice_url == VAPI_VOICE_URL:
            ai_start = True
        else:
            ai_start = False
            out.append(Post(voice_url, incoming_call(account_sid=account, to=to, from_=customer, call_sid=parent["sid"]),
                            _token(twilio, account), then=parent["sid"]))
    if ai_start:
        out += _ai_answer(parent["sid"])
    return parent["sid"], out


def customer_calls(customer: str) -> tuple[list[dict], list]:
    """The customer's calls, newest first (what the customer's phone shows), and what fell due meanwhile."""
    out: list[Post] = []
    with _network() as (twilio, network):
        _due(twilio, network, out)
        legs = [dict(leg) for leg in network.legs.values() if leg["customer"] == customer
                and (leg["parent"] is None or leg["rings"] == customer)]
        names = {leg["sid"]: _describe(network, leg) for leg in legs}
    return [{**leg, "state": names[leg["sid"]]} for leg in sorted(legs, key=lambda leg: -leg["created"])], out


def _describe(network: VoiceNetwork, leg: dict) -> str:
    """What the customer's phone says of a call."""
    if leg["parent"] is not None:  # our call to the customer
        if leg["status"] == "ringing":
            return "ringing"
        return "talking" if leg["status"] == "in-progress" else "ended"
    if leg["status"] in ENDED:
        return "ended"
    if leg["ai"]:
        return "ai"
    if leg["record"]:
        return "voicemail"
    dial = leg["dial"]
    if dial and dial["bridged"]:
        return "talking"
    return "ringing" if dial or leg["status"] in ("ringing", "queued") else "talking"


def customer_action(*, customer: str, sid: str, action: str) -> list[Post]:
    """The customer answers, declines or hangs up."""
    out: list[Post] = []
    with _network() as (twilio, network):
        _due(twilio, network, out)
        leg = network.legs.get(sid)
        if leg is None or leg["customer"] != customer or leg["status"] in ENDED:
            raise VoiceError("That call is over.", status=404)
        if leg["parent"] is None:  # the customer's own call
            if action != "hangup":
                raise VoiceError("You can only hang up a call you made.")
            _caller_left(twilio, network, leg, out)
        else:  # our call ringing the customer
            parent = network.legs[leg["parent"]]
            if action == "answer":
                _answer(twilio, network, parent, leg, out)
            elif action in ("decline", "hangup"):
                if leg["status"] == "in-progress":
                    _end_child(twilio, leg, "completed", out)
                else:
                    _end_child(twilio, leg, "busy", out)
                _child_gone(twilio, network, parent, out)
            else:
                raise VoiceError("Unknown action.")
    return out


def _caller_left(twilio, network: VoiceNetwork, parent: dict, out: list[Post]) -> None:
    """The calling side hung up: a voicemail ends with what was said, a talk with an AI is reported,
    a dial ends (its action is told, its answer not followed), then the call is over."""
    if parent["record"]:
        _voicemail_done(twilio, network, parent, out)
        # The <Record> action is told, but there is nobody left to follow its answer.
        out[:] = [Post(p.url, p.params, p.token) if p.then == parent["sid"] else p for p in out]
    elif parent["ai"]:
        _ai_done(twilio, network, parent, out, ended_reason="customer-ended-call")
        return
    elif parent["dial"]:
        dial = parent["dial"]
        for sid in dial["legs"]:
            child = network.legs[sid]
            _end_child(twilio, child, "completed" if child["status"] == "in-progress" else "canceled", out)
        _dial_ended(twilio, network, parent, out, caller_left=True)
    _end_parent(twilio, network, parent, out)


def _answer(twilio, network: VoiceNetwork, parent: dict, leg: dict, out: list[Post]) -> None:
    """A dialled leg answered: the others stop ringing, the caller is connected."""
    dial = parent["dial"]
    if dial is None or dial["bridged"] or leg["status"] != "ringing":
        raise VoiceError("That call is no longer ringing.", status=409)
    leg["answered"] = _now()
    _set_status(twilio, leg, "in-progress")
    _progress(twilio, leg, "in-progress", out, event="answered")
    dial["bridged"] = leg["sid"]
    for sid in dial["legs"]:
        if sid != leg["sid"]:
            _end_child(twilio, network.legs[sid], "canceled", out)
    parent["answered"] = parent["answered"] or _now()
    _set_status(twilio, parent, "in-progress")


def _child_gone(twilio, network: VoiceNetwork, parent: dict, out: list[Post]) -> None:
    """A dialled leg ended: when it was the one talking, or the last one ringing, the dial is over."""
    dial = parent["dial"]
    if dial is None:
        return
    if dial["bridged"] or all(network.legs[sid]["status"] in ENDED for sid in dial["legs"]):
        _dial_ended(twilio, network, parent, out)


# The browser's simulated device ----------------------------------------------------------------------


def _identity(twilio, network: VoiceNetwork, token: str, *, refresh: bool) -> tuple[str, str, str]:
    """(account sid, identity, TwiML App sid) of a Voice access token, checked as Twilio checks it:
    signed with one of the account's API keys, not expired, with a voice grant."""
    try:
        header = jwt.get_unverified_header(token)
        key_sid = jwt.decode(token, options={"verify_signature": False}).get("iss", "")
    except jwt.PyJWTError:
        raise VoiceError("Invalid Access Token", status=401, code=20101) from None
    if refresh or key_sid not in network.keys:
        network.keys = {}
        for account in twilio.account_sids():
            for key in twilio.keys(account):
                secret = twilio.key_secret(key["sid"])
                if secret:
                    network.keys[key["sid"]] = (secret, account)
    secret, account = network.keys.get(key_sid, ("", ""))
    if not secret or header.get("cty") != "twilio-fpa;v=1":
        raise VoiceError("Invalid Access Token", status=401, code=20101)
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise VoiceError("Access Token expired or expiration date invalid", status=401, code=20104) from None
    except jwt.PyJWTError:
        raise VoiceError("Invalid Access Token", status=401, code=20101) from None
    grants = claims.get("grants") or {}
    identity, voice = grants.get("identity", ""), grants.get("voice") or {}
    if claims.get("sub") != account or not identity or not voice:
        raise VoiceError("Invalid Access Token", status=401, code=20101)
    return account, identity, (voice.get("outgoing") or {}).get("application_sid", "")


def device_news(token: str, *, register: bool = False) -> tuple[dict, list[Post]]:
    """A device asks what happens: the calls ringing it and the calls it is in (register: the first
    time, with its token's key looked up afresh)."""
    out: list[Post] = []
    with _network() as (twilio, network):
        account, identity, _ = _identity(twilio, network, token, refresh=register)
        _due(twilio, network, out)
        address = f"client:{identity}"
        calls = []
        for leg in network.legs.values():
            if leg["account"] != account:
                continue
            if leg["rings"] == address and (leg["status"] not in ENDED or _now() - (leg["ended"] or 0) < 30):
                parent = network.legs.get(leg["parent"]) or {}
                calls.append({"sid": leg["sid"], "direction": "incoming", "status": leg["status"],
                              "from": parent.get("from", leg["from"]), "to": leg["to"], "custom": leg["custom"]})
            elif leg["from"] == address and leg["parent"] is None and (
                    leg["status"] not in ENDED or _now() - (leg["ended"] or 0) < 30):
                dial = leg["dial"] or {}
                child = network.legs.get(dial.get("bridged") or "") if dial else None
                rung = [network.legs[s] for s in dial.get("legs", [])]
                state = ("ended" if leg["status"] in ENDED else "answered" if child else
                         "ringing" if any(r["status"] == "ringing" for r in rung) else "connecting")
                calls.append({"sid": leg["sid"], "direction": "outgoing", "status": state, "from": leg["from"],
                              "to": leg["to"], "custom": {}})
    return {"identity": identity, "calls": calls}, out


def device_connect(token: str, params: dict) -> tuple[str, list[Post]]:
    """The device places a call: Twilio asks the TwiML App's voice URL, with the page's parameters."""
    out: list[Post] = []
    with _network() as (twilio, network):
        account, identity, app_sid = _identity(twilio, network, token, refresh=False)
        app = next((a for a in twilio.applications(account) if a["sid"] == app_sid), None)
        if app is None or not app.get("voice_url"):
            raise VoiceError("The TwiML App of this token does not exist.", status=400, code=21218)
        to = str(params.get("To", ""))[:64]
        parent = _leg(network, twilio, account=account, from_=f"client:{identity}", to=to, direction="inbound",
                      customer="", final_url=app.get("status_callback") or "")
        form = browser_call(account_sid=account, identity=identity, to=to, call_sid=parent["sid"],
                            application_sid=app_sid, from_number=None)
        form.update({k: str(v)[:256] for k, v in params.items() if k not in form and isinstance(v, str | int)})
        out.append(Post(app["voice_url"], form, _token(twilio, account), then=parent["sid"]))
    return parent["sid"], out


def device_action(token: str, sid: str, action: str, digits: str = "") -> list[Post]:
    """The device accepts, rejects or hangs up a call, or presses keys."""
    out: list[Post] = []
    with _network() as (twilio, network):
        account, identity, _ = _identity(twilio, network, token, refresh=False)
        _due(twilio, network, out)
        address = f"client:{identity}"
        leg = network.legs.get(sid)
        if leg is None or leg["account"] != account or address not in (leg["rings"], leg["from"]):
            raise VoiceError("No such call.", status=404, code=31005)
        if leg["status"] in ENDED:
            return out
        if action == "digits":
            leg["digits"] += "".join(ch for ch in digits if ch in "0123456789*#w")[:32]
            return out
        if leg["parent"] is None:  # the device's own call
            if action != "hangup":
                raise VoiceError("Only hang up applies to a call you placed.", code=31000)
            _caller_left(twilio, network, leg, out)
            return out
        parent = network.legs[leg["parent"]]
        if action == "accept":
            _answer(twilio, network, parent, leg, out)
        elif action == "reject":
            _end_child(twilio, leg, "busy", out)
            _child_gone(twilio, network, parent, out)
        elif action == "hangup":
            _end_child(twilio, leg, "completed" if leg["status"] == "in-progress" else "canceled", out)
            _child_gone(twilio, network, parent, out)
        else:
            raise VoiceError("Unknown action.", code=31000)
    return out


def ended_by_api(account: str, sid: str, status: str) -> list[Post]:
    """Our product ended a call through Twilio's API (POST Calls/<sid> Status=completed)."""
    out: list[Post] = []
    with _network() as (twilio, network):
        leg = network.legs.get(sid)
        if leg is None or leg["account"] != account or leg["status"] in ENDED:
            return out
        if leg["parent"] is None:
            _caller_left(twilio, network, leg, out)
        else:
            _end_child(twilio, leg, status, out)
            _child_gone(twilio, network, network.legs[leg["parent"]], out)
    return out


# VAPI answering an AI agent's number -----------------------------------------------------------------


def _ai_answer(sid: str) -> list[Post]:
    """VAPI took the call: its assistant talks with the caller; VAPI tells our server it started."""
    with simulated("twilio") as twilio, simulated("voice") as network, simulated("vapi") as vapi:
        parent = network.legs[sid]
        number = next((n for n in vapi.phone_numbers() if n.get("number") == parent["to"]
                       and n.get("twilioAccountSid") == parent["account"]), None)
        if number is None:
            _end_parent(twilio, network, parent, out := [], status="failed")
            return out
        assistant = vapi.assistant(number.get("assistantId") or "") or {}
        parent["answered"] = _now()
        _set_status(twilio, parent, "in-progress")
        parent["ai"] = {"number_id": number["id"], "call_id": str(uuid.uuid4()), "ends_at": _now() + AI_TALK_SECONDS,
                        "assistant": assistant.get("name") or "the assistant", "started": _iso(_now())}
        request = vapi.status_update(number["id"], "in-progress", call_id=parent["ai"]["call_id"],
                                     customer=parent["customer"]) if (number.get("server") or {}).get("url") else None
    return [Timer(parent["ai"]["ends_at"]), *([_vapi_post(request)] if request else [])]


def _ai_done(twilio, network: VoiceNetwork, parent: dict, out: list[Post], *, ended_reason: str) -> None:
    """The talk with the AI agent is over: VAPI sends its end-of-call report."""
    ai = parent["ai"]
    seconds = max(1, int(_now() - parent["answered"]))
    last_text = next((m["body"] for m in reversed(twilio.messages(parent["account"]))
                      if m["from"] == parent["customer"] and m["to"] == parent["to"] and m["body"]), "")
    said = last_text or "I'd like to know where my order is."
    transcript = (f"AI: Hello, this is {ai['assistant']}. How can I help you today?\n"
                  f"User: {said}\n"
                  "AI: Thank you, I have noted that and a colleague will follow up by text today.\n"
                  "User: Great, thanks. Bye.")
    summary = f"The caller said: \u201c{said}\u201d. The assistant promised a follow-up by text the same day."
    _set_status(twilio, parent, "completed")
    with simulated("vapi") as vapi:
        number = next((n for n in vapi.phone_numbers() if n["id"] == ai["number_id"]), None)
        if number is None or not (number.get("server") or {}).get("url"):
            parent["ai"] = None
            return
        request = vapi.end_of_call_report(
            ai["number_id"], call_id=ai["call_id"], customer=parent["customer"], ended_reason=ended_reason,
            cost=round(0.07 * seconds / 60, 4), transcript=transcript, summary=summary, recording_url="",
            started_at=ai["started"], ended_at=_iso(_now()))
    parent["ai"] = None
    out.append(_vapi_post(request))


def _vapi_post(request) -> Post:
    return Post(request.url, {}, "", json_body=request.body, headers=tuple(request.headers.items()))


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(moment * 1000) % 1000:03d}Z"

