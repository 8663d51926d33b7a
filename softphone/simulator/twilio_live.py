"""Live calls in the Twilio fake: a call's update (new TwiML, hang up), conferences and their
participants (hold, add, remove), as the 2010-04-01 API describes them (contracts/twilio).

The fake does not carry audio. It keeps what Twilio would know: which call runs which TwiML, which
conference a call joined (a `<Dial><Conference>` in the TwiML a call was given puts it there, as
Twilio does), who is on hold. Callbacks that Twilio would send (participant-join, a leg's status)
are sent by the tests themselves with softphone/simulator/twilio_webhooks.py.

Mixed into FakeTwilio; every method here runs with the fake's lock held.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET

from softphone.simulator.server import Response, json_response

API_VERSION = "2010-04-01"
ACCOUNT = r"/2010-04-01/Accounts/(?P<account>[^/]+)"
ENDED = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


class LiveCalls:
    """State: self._calls (account -> list of call resources, shared with FakeTwilio),
    self._conferences (account -> sid -> conference resource with its participants)."""

    def _live_routes(self) -> list:
        return [
            (re.compile(ACCOUNT + r"/Calls/(?P<sid>CA[0-9a-f]{32})\.json"),
             {"GET": self._fetch_call, "POST": self._update_call}),
            (re.compile(ACCOUNT + r"/Conferences\.json"), {"GET": self._list_conferences}),
            (re.compile(ACCOUNT + r"/Conferences/(?P<sid>CF[0-9a-f]{32})\.json"),
             {"GET": self._fetch_conference, "POST": self._update_conference}),
            (re.compile(ACCOUNT + r"/Conferences/(?P<conference>CF[0-9a-f]{32})/Participants\.json"),
             {"GET": self._list_participants, "POST": self._add_participant}),
            (re.compile(ACCOUNT + r"/Conferences/(?P<conference>CF[0-9a-f]{32})/Participants/"
                                  r"(?P<call>CA[0-9a-f]{32})\.json"),
             {"GET": self._fetch_participant, "POST": self._update_participant, "DELETE": self._remove_participant}),
        ]

    # -- set-up and inspection (take the lock) ---------------------------------------------------------

    def add_call(self, account_sid: str, *, sid: str | None = None, sender: str = "+14155550199",
                 to: str = "+14155550142", direction: str = "inbound", status: str = "in-progress",
                 parent_call_sid: str | None = None) -> str:
        """A call Twilio knows of because it reached us (the tests' webhooks stand for it)."""
        sid = sid or "CA" + uuid.uuid4().hex
        with self._lock:
            self._calls.setdefault(account_sid, []).append(self._call_resource(
                account_sid, sid, sender, to, direction, status, parent_call_sid))
        return sid

    def run(self, account_sid: str, sid: str, twiml: str | bytes) -> None:
        """The call now runs this TwiML (what our webhook answered it), as Twilio would."""
        with self._lock:
            call = self._find_call(account_sid, sid)
            self._leave_conferences(account_sid, sid)
            self._run_twiml(account_sid, call, twiml.decode() if isinstance(twiml, bytes) else twiml)

    def set_call_status(self, account_sid: str, sid: str, status: str, *, duration: int | None = None) -> None:
        """A call moved on (the simulated carrier's calls, softphone.simulator.voice)."""
        with self._lock:
            call = self._find_call(account_sid, sid)
            if call is None:
                return
            call["status"], call["date_updated"] = status, self._now_text()
            if status in ENDED:
                call["end_time"], call["duration"] = self._now_text(), None if duration is None else str(duration)
                self._leave_conferences(account_sid, sid)

    def call(self, account_sid: str, sid: str) -> dict | None:
        with self._lock:
            found = self._find_call(account_sid, sid)
            return dict(found) if found else None

    def conferences(self, account_sid: str) -> list[dict]:
        with self._lock:
            return [{**c, "participants": {k: dict(v) for k, v in c["participants"].items()}}
                    for c in self._conferences.get(account_sid, {}).values()]

    def conference_named(self, account_sid: str, name: str) -> dict | None:
        return next((c for c in self.conferences(account_sid) if c["friendly_name"] == name), None)

    # -- calls -------------------------------------------------------------------------------------

    def _call_resource(self, account_sid, sid, sender, to, direction, status, parent_call_sid) -> dict:
        uri = f"/{API_VERSION}/Accounts/{account_sid}/Calls/{sid}"
        now = self._now_text()
        return {
            "account_sid": account_sid, "answered_by": None, "api_version": API_VERSION, "caller_name": None,
            "date_created": now, "date_updated": now, "direction": direction, "duration": None,
            "end_time": None, "forwarded_from": None, "from": sender, "from_formatted": sender, "group_sid": None,
            "parent_call_sid": parent_call_sid, "phone_number_sid": None, "price": None, "price_unit": "USD",
            "queue_time": "0", "sid": sid, "start_time": now, "status": status,
            "subresource_uris": {name: f"{uri}/{resource}.json" for name, resource in (
                ("notifications", "Notifications"), ("recordings", "Recordings"), ("events", "Events"))},
            "to": to, "to_formatted": to, "trunk_sid": None, "uri": f"{uri}.json",
        }

    def _find_call(self, account_sid: str, sid: str) -> dict | None:
        return next((c for c in self._calls.get(account_sid, []) if c["sid"] == sid), None)

    def _owned_call(self, account_sid: str, sid: str, path: str) -> dict:
        found = self._find_call(account_sid, sid)
        if found is None:
            raise self._api_error(404, 20404, f"The requested resource {path} was not found")
        return found

    def _fetch_call(self, account_sid: str, params: dict, path: str, sid: str) -> Response:
        return json_response(200, self._owned_call(account_sid, sid, path))

    def _update_call(self, account_sid: str, params: dict, path: str, sid: str) -> Response:
        call = self._owned_call(account_sid, sid, path)
        status, twiml, url = (self._one(params.get(name)) for name in ("Status", "Twiml", "Url"))
        if call["status"] in ENDED:
            raise self._api_error(400, 21220, "Call is not in-progress. Cannot redirect.")
        if status:
            if status not in ("completed", "canceled"):
                raise self._api_error(400, 20001, f"Invalid Status {status}")
            self._end_call(account_sid, call, "completed" if call["status"] == "in-progress" else "canceled")
        elif twiml or url:
            call["twiml"], call["url"] = twiml, url
            self._leave_conferences(account_sid, call["sid"])
            if twiml:
                self._run_twiml(account_sid, call, twiml)
        else:
            raise self._api_error(400, 21205, "Url, Twiml or Status is required.")
        call["date_updated"] = self._now_text()
        return json_response(200, call)

    def _run_twiml(self, account_sid: str, call: dict, twiml: str) -> None:
        try:
            root = ET.fromstring(twiml)
        except ET.ParseError:
            raise self._api_error(400, 12100, "Document parse failure") from None
        node = root.find("./Dial/Conference")
        if node is not None and (node.text or "").strip():
            self._join(account_sid, (node.text or "").strip(), call["sid"], label=None,
                       start=node.get("startConferenceOnEnter", "true") == "true",
                       end=node.get("endConferenceOnExit", "false") == "true", status="connected")
        elif root.find("./Hangup") is not None and root.find("./Dial") is None and root.find("./Record") is None:
            self._end_call(account_sid, call, "completed")

    def _end_call(self, account_sid: str, call: dict, status: str) -> None:
        call["status"], call["end_time"] = status, self._now_text()
        self._leave_conferences(account_sid, call["sid"])

    # -- conferences -------------------------------------------------------------------------------

    def _join(self, account_sid, name, call_sid, *, label, start, end, status) -> dict:
        conferences = self._conferences.setdefault(account_sid, {})
        conference = next((c for c in conferences.values()
                           if c["friendly_name"] == name and c["status"] != "completed"), None)
        if conference is None:
            sid = "CF" + uuid.uuid4().hex
            now = self._now_text()
            uri = f"/{API_VERSION}/Accounts/{account_sid}/Conferences/{sid}"
            conference = conferences[sid] = {
                "account_sid": account_sid, "api_version": API_VERSION, "call_sid_ending_conference": None,
                "date_created": now, "date_updated": now, "friendly_name": name, "reason_conference_ended": None,
                "region": "us1", "sid": sid, "status": "init",
                "subresource_uris": {"participants": f"{uri}/Participants.json",
                                     "recordings": f"{uri}/Recordings.json"},
                "uri": f"{uri}.json", "participants": {},
            }
            self._position[sid] = next(self._positions)
        now = self._now_text()
        participant = {
            "account_sid": account_sid, "call_sid": call_sid, "call_sid_to_coach": None, "coaching": False,
            "conference_sid": conference["sid"], "date_created": now, "date_updated": now,
            "end_conference_on_exit": end, "hold": False, "label": label, "muted": False, "queue_time": None,
            "start_conference_on_enter": start, "status": status,
            "uri": f"/{API_VERSION}/Accounts/{account_sid}/Conferences/{conference['sid']}/Participants/{call_sid}.json",
        }
        conference["participants"][call_sid] = participant
        if start and status == "connected":
            conference["status"] = "in-progress"
        return participant

    def _leave_conferences(self, account_sid: str, call_sid: str) -> None:
        for conference in self._conferences.get(account_sid, {}).values():
            participant = conference["participants"].pop(call_sid, None)
            if participant is None or conference["status"] == "completed":
                continue
            if participant["end_conference_on_exit"] or not conference["participants"]:
                conference["status"] = "completed"
                conference["reason_conference_ended"] = ("participant-with-end-conference-on-exit-left"
                                                         if participant["end_conference_on_exit"]
                                                         else "last-participant-left")
                conference["call_sid_ending_conference"] = call_sid
                for other in list(conference["participants"]):
                    conference["participants"].pop(other)
                    if (leg := self._find_call(account_sid, other)) is not None and leg["status"] not in ENDED:
                        leg["status"] = "completed"

    def _public(self, conference: dict) -> dict:
        return {k: v for k, v in conference.items() if k != "participants"}

    def _owned_conference(self, account_sid: str, sid: str, path: str) -> dict:
        conference = self._conferences.get(account_sid, {}).get(sid)
        if conference is None:
            raise self._api_error(404, 20404, f"The requested resource {path} was not found")
        return conference

    def _list_conferences(self, account_sid: str, params: dict, path: str) -> Response:
        items = [self._public(c) for c in self._conferences.get(account_sid, {}).values()
                 if c["friendly_name"] == params.get("FriendlyName", c["friendly_name"])
                 and c["status"] == params.get("Status", c["status"])]
        return self._paginate(path, params, items, "conferences")

    def _fetch_conference(self, account_sid: str, params: dict, path: str, sid: str) -> Response:
        return json_response(200, self._public(self._owned_conference(account_sid, sid, path)))

    def _update_conference(self, account_sid: str, params: dict, path: str, sid: str) -> Response:
        conference = self._owned_conference(account_sid, sid, path)
        if self._one(params.get("Status")) == "completed":
            for call_sid in list(conference["participants"]):
                if (leg := self._find_call(account_sid, call_sid)) is not None:
                    leg["status"] = "completed"
            conference["participants"].clear()
            conference["status"], conference["reason_conference_ended"] = "completed", "conference-ended-via-api"
        return json_response(200, self._public(conference))

    def _list_participants(self, account_sid: str, params: dict, path: str, conference: str) -> Response:
        found = self._owned_conference(account_sid, conference, path)
        items = list(found["participants"].values())
        for participant in items:
            self._position.setdefault(participant["call_sid"], next(self._positions))
        return self._paginate(path, params, items, "participants")

    def _add_participant(self, account_sid: str, params: dict, path: str, conference: str) -> Response:
        found = self._owned_conference(account_sid, conference, path)
        sender, to = self._one(params.get("From")), self._one(params.get("To"))
        if not sender:
            raise self._api_error(400, 21604, "A 'From' phone number is required.")
        if not to:
            raise self._api_error(400, 21604, "A 'To' phone number is required.")
        if found["status"] == "completed":
            raise self._api_error(400, 20404, "The conference has ended.")
        sid = "CA" + uuid.uuid4().hex
        self._calls.setdefault(account_sid, []).append(self._call_resource(
            account_sid, sid, sender, to, "outbound-api", "queued", None))
        participant = self._join(
            account_sid, found["friendly_name"], sid, label=self._one(params.get("Label")),
            start=self._one(params.get("StartConferenceOnEnter")) != "false",
            end=self._one(params.get("EndConferenceOnExit")) == "true", status="queued")
        participant["status_callback"] = self._one(params.get("StatusCallback"))
        return json_response(201, {k: v for k, v in participant.items() if k != "status_callback"})

    def _participant(self, account_sid: str, conference: str, call: str, path: str) -> dict:
        found = self._owned_conference(account_sid, conference, path)
        participant = found["participants"].get(call)
        if participant is None:
            raise self._api_error(404, 20404, f"The requested resource {path} was not found")
        return participant

    def _fetch_participant(self, account_sid, params, path, conference, call) -> Response:
        participant = self._participant(account_sid, conference, call, path)
        return json_response(200, {k: v for k, v in participant.items() if k != "status_callback"})

    def _update_participant(self, account_sid, params, path, conference, call) -> Response:
        participant = self._participant(account_sid, conference, call, path)
        for name, key in (("Hold", "hold"), ("Muted", "muted"), ("EndConferenceOnExit", "end_conference_on_exit")):
            if name in params:
                participant[key] = self._one(params[name]) == "true"
        if "HoldUrl" in params:
            participant["hold_url"] = self._one(params["HoldUrl"])
        participant["date_updated"] = self._now_text()
        return json_response(200, {k: v for k, v in participant.items() if k not in ("status_callback", "hold_url")})

    def _remove_participant(self, account_sid, params, path, conference, call) -> Response:
        self._participant(account_sid, conference, call, path)
        leg = self._find_call(account_sid, call)
        if leg is not None:
            self._end_call(account_sid, leg, "completed")
        else:
            self._leave_conferences(account_sid, call)
        return Response(204, b"", {})

    def answer_participant(self, account_sid: str, call_sid: str) -> None:
        """The colleague rang into a conference picked up (Twilio would then call the status callback)."""
        with self._lock:
            for conference in self._conferences.get(account_sid, {}).values():
                if call_sid in conference["participants"]:
                    conference["participants"][call_sid]["status"] = "connected"
            if (leg := self._find_call(account_sid, call_sid)) is not None:
                leg["status"] = "in-progress"
