-- Replays pre-signed Twilio webhook requests, each thread its own slice, none sent twice.
local requests = {}
local counter = 0

function setup(thread)
  thread:set("id", tostring(thread_id or 0))
  thread_id = (thread_id or 0) + 1
end

function init(args)
  local id = tonumber(wrk.thread:get("id"))
  local index = 0
  for line in io.lines(os.getenv("WEBHOOK_REQUESTS")) do
    if index % 2 == id then
      local signature, body = line:match("([^\t]+)\t(.*)")
      requests[#requests + 1] = wrk.format("POST", "/webhooks/twilio/messages/", {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = signature,
      }, body)
    end
    index = index + 1
  end
end

function request()
  counter = counter + 1
  return requests[((counter - 1) % #requests) + 1]
end
