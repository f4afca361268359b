-- notes_quality: a submitted in-person call whose notes are too thin to be
-- of use to the next rep: fewer than `min_words` words, or boilerplate such
-- as "n/a". Resolved when a corrected version of the call has real notes.
--
-- config: { min_words: 5, channels: [IN_PERSON] }

-- library functions as locals: a local is a register, `string.x` is two lookups
local find, gsub, lower, match, rep, format =
  string.find, string.gsub, string.lower, string.match, string.rep, string.format

local BOILERPLATE = {
  ["n/a"] = true, ["na"] = true, ["none"] = true, ["-"] = true, ["."] = true,
  ["tbd"] = true, ["ok"] = true, ["see above"] = true, ["no notes"] = true,
}

-- "Has it at least n words?" as one anchored pattern, made once per n:
-- "^%s*%S+%s+%S+%s+%S" is three words. The match stops at the n-th word, so
-- a long note costs no more than a short one (counting every word with
-- gsub reads all of it, and most notes pass).
local AT_LEAST = setmetatable({}, { __index = function(t, n)
  local p = "^%s*" .. rep("%S+%s+", n - 1) .. "%S"
  t[n] = p
  return p
end })

local function is_boilerplate(notes)
  return BOILERPLATE[lower(match(notes, "^%s*(.-)%s*$"))] or false
end

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
    local min = config.min_words or 5
    -- every boilerplate phrase is two words or fewer: with min_words above 2
    -- it is too short anyway, so it is looked up only below that
    local thin = min > 0 and (notes == "" or not find(notes, AT_LEAST[min]))
    if not thin and min <= 2 then thin = is_boilerplate(notes) end
    local subject = "call/" .. call.call_id
    if thin then
      if ctx:is_firing(subject) then return end   -- cheaper than building an alert to dedup
      local _, words = gsub(notes, "%S+", "")
      ctx:fire{
        subject = subject,
        summary = format("Call %s by %s has %d word(s) of notes (%d needed)",
                         call.call_id, call.rep_id, words, min),
        evidence = { words = words, min_words = min, boilerplate = is_boilerplate(notes) },
        hcp_id = call.hcp_id, rep_id = call.rep_id, account_id = call.account_id,
        territory = call.territory, call_id = call.call_id,
      }
    elseif ctx:is_firing(subject) then
      local _, words = gsub(notes, "%S+", "")
      ctx:resolve{
        subject = subject,
        summary = format("Call %s now has %d words of notes", call.call_id, words),
        evidence = { resolution = "notes completed", words = words },
      }
    end
  end,
}
