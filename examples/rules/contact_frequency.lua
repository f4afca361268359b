-- contact_frequency: an HCP contacted more than `max_calls` times within a
-- rolling `window`, across every rep and channel. Each HCP's recent calls
-- are kept with ctx:put (call_id -> call time); the alert resolves once
-- enough of them have left the window (a deadline at the oldest one's exit).
--
-- config: { max_calls: 6, window: 30d }

local function recent(ctx, hcp, window)
  local calls = ctx:get("hcp/" .. hcp) or {}
  local n, oldest = 0, nil
  for id, at in pairs(calls) do
    if at <= ctx.now - window then
      calls[id] = nil
    else
      n = n + 1
      if not oldest or at < oldest then oldest = at end
    end
  end
  return calls, n, oldest
end

local function settle(ctx, hcp, calls, n, oldest, window, max)
  local key = "hcp/" .. hcp
  if n == 0 then ctx:put(key, nil) else ctx:put(key, calls, window) end
  if n <= max then
    ctx:cancel(key)
    if ctx:is_firing(key) then
      ctx:resolve{
        subject = key,
        summary = string.format("HCP %s had %d call(s) in the window, at most %d", hcp, n, max),
        evidence = { resolution = "window passed", calls = n },
      }
    end
  else
    ctx:arm(key, oldest + window)
  end
end

return {
  name = "contact_frequency",
  kind = "accountability",
  events = { "call" },
  -- checked by the daemon before any Lua runs: planned calls never reach on_event
  where = { ["call.status"] = "SUBMITTED" },
  -- handed to on_event after ev and ctx (cheaper than ev.call.hcp_id...)
  fields = { "call.hcp_id", "call.call_id", "call.call_at_ms" },

  on_event = function(ev, ctx, hcp, call_id, call_at)
    local window = ctx.config.window or 30 * 86400000
    local max = ctx.config.max_calls or 6
    local calls, n, oldest = recent(ctx, hcp, window)
    if not calls[call_id] and call_at > ctx.now - window then
      n = n + 1
      if not oldest or call_at < oldest then oldest = call_at end
    end
    calls[call_id] = call_at
    if n > max then
      local call = ev.call
      ctx:fire{
        subject = "hcp/" .. hcp,
        severity = "WARNING",
        summary = string.format("HCP %s was contacted %d times within %d days (at most %d)",
                                hcp, n, window // 86400000, max),
        evidence = { calls = n, max_calls = max, window_days = window // 86400000,
                     last_rep = call.rep_id, last_channel = call.channel },
        hcp_id = hcp, rep_id = call.rep_id, account_id = call.account_id,
        territory = call.territory, call_id = call_id,
      }
    end
    settle(ctx, hcp, calls, n, oldest, window, max)
  end,

  on_deadline = function(key, ctx)
    local hcp = string.sub(key, 5)
    local window = ctx.config.window or 30 * 86400000
    local calls, n, oldest = recent(ctx, hcp, window)
    settle(ctx, hcp, calls, n, oldest, window, ctx.config.max_calls or 6)
  end,
}
