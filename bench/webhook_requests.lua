-- Replays pre-signed Twilio webhook requests (the file WEBHOOK_REQUESTS: signature TAB body per
-- line), each wrk thread its own slice (WEBHOOK_THREADS, default 2, must match wrk's -t).
-- By default a thread cycles through its slice until wrk's duration ends (a request sent again is a
-- cheaper duplicate: make the file longer than the run needs).
-- With WEBHOOK_ONCE=1 each request is sent once (a burst): a thread whose slice is spent writes
-- the file issued-<thread> in WEBHOOK_DONE_DIR, keeps its other connections busy with the trivial
-- view (WEBHOOK_FILLER, which answers "ok"), and once every request of its slice is answered it
-- writes done-<thread> and stops. wrk itself runs until its duration ends or it is interrupted
-- (SIGINT: it prints its figures), so the caller interrupts it when every thread is done.
local requests = {}
local counter = 0
local answered = 0
local once = os.getenv("WEBHOOK_ONCE") == "1"
local filler = nil
local id = nil
local verified = false

local function mark(name)
  local file = io.open(os.getenv("WEBHOOK_DONE_DIR") .. "/" .. name .. "-" .. id, "w")
  file:close()
end

function setup(thread)
  thread:set("id", tostring(thread_id or 0))
  thread_id = (thread_id or 0) + 1
end

function init(args)
  id = tonumber(wrk.thread:get("id"))
  local threads = tonumber(os.getenv("WEBHOOK_THREADS") or "2")
  local index = 0
  for line in io.lines(os.getenv("WEBHOOK_REQUESTS")) do
    if index % threads == id then
      local signature, body = line:match("([^\t]+)\t(.*)")
      requests[#requests + 1] = wrk.format("POST", "/webhooks/twilio/messages/", {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = signature,
      }, body)
    end
    index = index + 1
  end
  filler = wrk.format("GET", os.getenv("WEBHOOK_FILLER") or "/bench/bare")
end

function request()
  -- wrk calls the first thread's request() once before it starts, to check the request, and never
  -- sends what that call returns: it must not use up a request.
  if id == 0 and not verified then
    verified = true
    return requests[1]
  end
  counter = counter + 1
  if once and counter > #requests then
    if counter == #requests + 1 then
      mark("issued")
    end
    return filler
  end
  return requests[((counter - 1) % #requests) + 1]
end

-- Defined only when needed: wrk does more work per answer when a script has a response().
if once then
  function response(status, headers, body)
    if status == 200 and body == "ok" then
      return  -- the filler's answer
    end
    answered = answered + 1
    if answered == #requests then
      mark("done")
      wrk.thread:stop()
    end
  end
end
