/**
 * The request body limit for bodies that do not announce their size (chunked, or HTTP/2 without
 * `content-length`), which HAProxy 2.6 has no setting for: a Lua filter counts such a body as it
 * passes and, past the limit, stops it. `haproxy-config.ts` declares it on a twin of each route's
 * backend and sends only those requests there, so no other request runs Lua.
 *
 * How it stops it, found on 2.6.12 (docs/decisions.md, G7): returning `filter.ERROR` from
 * `http_payload` is ignored and the body goes on; `txn:done(reply)` sends the reply but closes
 * the connection while the client is still sending, so the client sees a reset. A Lua runtime
 * error in the filter makes HAProxy abort the request the way it aborts a bad one: the backend's
 * connection is closed mid-body (it never sees the request end), the client may send the rest of
 * its body and gets the 400 error reply. The filter sets `txn.refusal` and `txn.refusal_message`
 * first; that reply is written from them and a listener rule makes its status 413.
 * The price: HAProxy writes one `[ALERT]` line (the error) to its messages per refused request.
 */

/** The filter's name in the configuration (`filter lua.<name> <limit> '<message>'`). */
export const BODY_LIMIT_FILTER = 'rondo_body_limit';

/** What a route's backend name ends with in its twin, the backend that declares the filter. */
export const BODY_LIMIT_TWIN = '-body';

/** The file `haproxyConfig` writes the script to, in the configuration directory. */
export const BODY_LIMIT_SCRIPT = 'body-limit.lua';

/** The outcome (and `code`) of a refused body, as the `content-length` check answers. */
export const BODY_LIMIT_REFUSAL = 'REQUEST_TOO_LARGE';

/** The message of that answer. */
export const BODY_LIMIT_MESSAGE = 'request body is larger than 10 MB';

export const BODY_LIMIT_LUA = `-- Rondo's limit for request bodies of unknown size (src/gateway/haproxy-body-limit.ts).
local BodyLimit = {}
BodyLimit.id = "${BODY_LIMIT_FILTER}"
BodyLimit.flags = filter.FLT_CFG_FL_HTX

function BodyLimit:new()
  return setmetatable({ seen = 0 }, self)
end

-- Only requests without content-length come to the backends that declare the filter.
function BodyLimit:http_headers(txn, msg)
  if not msg:is_resp() then filter.register_data_filter(self, msg.channel) end
  return filter.CONTINUE
end

function BodyLimit:http_payload(txn, msg)
  local input = msg:input()
  -- With the end of the message, input() also counts the trailers and their end (1 byte):
  -- count the data alone then.
  if self.seen + input > self.limit and msg:eom() then input = #(msg:body() or "") end
  self.seen = self.seen + input
  if self.seen > self.limit then
    txn:set_var("txn.refusal", "${BODY_LIMIT_REFUSAL}")
    txn:set_var("txn.refusal_message", self.message)
    -- The only way a Lua filter can abort the request with an answer on 2.6 (see the .ts file).
    error("request body over " .. self.limit .. " bytes refused")
  end
end

core.register_filter("${BODY_LIMIT_FILTER}", BodyLimit, function(flt, args)
  flt.limit = assert(tonumber(args[1]), "${BODY_LIMIT_FILTER}: a byte limit expected")
  flt.message = args[2] or "request body is too large"
  flt.__index = flt
  return flt
end)
`;
