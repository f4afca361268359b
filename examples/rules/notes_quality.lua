-- notes_quality: a submitted in-person call whose notes are too thin to be
-- of use to the next rep: fewer than `min_words` words, or boilerplate such
-- as "n/a". Resolved when a corrected version of the call has real notes.
--
-- config: { min_words: 5, channels: [IN_PERSON] }

-- The file runs once per load with the rule's config (a changed config
-- reloads it): what depends only on the config is worked out here, once.
local config = ...
local min = config.min_words or 5

-- library functions as locals: a local is a register, `text.x` a lookup
local words, normalize, format = text.words, text.normalize, string.format

local BOILERPLATE = {
  ["n/a"] = true, ["na"] = true, ["none"] = true, ["-"] = true, ["."] = true,
  ["tbd"] = true, ["ok"] = true, ["see above"] = true, ["no notes"] = true,
}

return {
  name = "notes_quality",
  kind = "accountability",
  events = { "call" },
  -- checked by the daemon before any Lua runs: planned calls, other
  -- channels never reach on_event
  where = {
    ["call.status"] = "SUBMITTED",
    ["call.channel"] = config.channels or "IN_PERSON",
  },
  -- handed to on_event after ev and ctx: cheaper than reading them from ev
  fields = { "call.notes", "call.call_id" },

  on_event = function(ev, ctx, notes, call_id)
    -- words(notes, min) stops counting at min: a long note costs no more
    -- than a short one
    local thin = words(notes, min) < min
    -- every boilerplate phrase is two words or fewer: with min_words above 2
    -- it is too short anyway, so it is looked up only below that
    if not thin and min <= 2 then thin = BOILERPLATE[normalize(notes)] or false end
    -- is_firing("call/", call_id) asks about "call/" .. call_id without
    -- making that string (most events end here)
    if thin then
      if ctx:is_firing("call/", call_id) then return end   -- cheaper than building an alert to dedup
      local n, call = words(notes), ev.call
      local rep = call.rep_id
      ctx:fire{
        subject = "call/" .. call_id,
        summary = format("Call %s by %s has %d word(s) of notes (%d needed)", call_id, rep, n, min),
        evidence = { words = n, min_words = min,
                     boilerplate = BOILERPLATE[normalize(notes)] or false },
        hcp_id = call.hcp_id, rep_id = rep, account_id = call.account_id,
        territory = call.territory, call_id = call_id,
      }
    elseif ctx:is_firing("call/", call_id) then
      local n = words(notes)
      ctx:resolve{
        subject = "call/" .. call_id,
        summary = format("Call %s now has %d words of notes", call_id, n),
        evidence = { resolution = "notes completed", words = n },
      }
    end
  end,
}
