-- notes_quality: a submitted in-person call whose notes are too thin to be
-- of use to the next rep: fewer than `min_words` words, or boilerplate such
-- as "n/a". Resolved when a corrected version of the call has real notes.
--
-- config: { min_words: 5, channels: [IN_PERSON] }

-- library functions as locals: a local is a register, `string.x` is two lookups
local gsub, lower, match, format = string.gsub, string.lower, string.match, string.format

local BOILERPLATE = {
  ["n/a"] = true, ["na"] = true, ["none"] = true, ["-"] = true, ["."] = true,
  ["tbd"] = true, ["ok"] = true, ["see above"] = true, ["no notes"] = true,
}

return {
  name = "notes_quality",
  kind = "accountability",
  events = { "call" },

  on_event = function(ev, ctx)
    local call = ev.call
    if call.status ~= "SUBMITTED" then return end
    local config = ctx.config
    local channels = config.channels
    local channel = call.channel
    if channels then
      local wanted = false
      for i = 1, #channels do wanted = wanted or channels[i] == channel end
      if not wanted then return end
    elseif channel ~= "IN_PERSON" then
      return
    end
    local notes = call.notes
    local _, words = gsub(notes, "%S+", "")
    local min = config.min_words or 5
    -- every boilerplate phrase is two words or fewer: only short notes are compared
    local boilerplate = words <= 2 and BOILERPLATE[lower(match(notes, "^%s*(.-)%s*$"))]
    local subject = "call/" .. call.call_id
    if words < min or boilerplate then
      if ctx:is_firing(subject) then return end   -- cheaper than building an alert to dedup
      ctx:fire{
        subject = subject,
        summary = format("Call %s by %s has %d word(s) of notes (%d needed)",
                                call.call_id, call.rep_id, words, min),
        evidence = { words = words, min_words = min, boilerplate = boilerplate or false },
        hcp_id = call.hcp_id, rep_id = call.rep_id, account_id = call.account_id,
        territory = call.territory, call_id = call.call_id,
      }
    elseif ctx:is_firing(subject) then
      ctx:resolve{
        subject = subject,
        summary = format("Call %s now has %d words of notes", call.call_id, words),
        evidence = { resolution = "notes completed", words = words },
      }
    end
  end,
}
