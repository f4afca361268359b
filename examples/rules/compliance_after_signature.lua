-- compliance_after_signature: a contract signed (the `signed_step` step
-- COMPLETED) without its COMPLIANCE_APPROVAL step completed within
-- `within` (default 5 days). A deadline is armed at the signature and
-- cancelled by the approval; an approval after the alert resolves it.
--
-- config: { within: 5d, signed_step: CONTRACT_SIGNED, approval_step: COMPLIANCE_APPROVAL }

-- The file runs once per load with the rule's config (a changed config
-- reloads it).
local config = ...
local signed = config.signed_step or "CONTRACT_SIGNED"
local approval = config.approval_step or "COMPLIANCE_APPROVAL"
local within = config.within or 5 * 86400000

return {
  name = "compliance_after_signature",
  kind = "friction",
  events = { "contracting" },
  -- checked by the daemon before any Lua runs: only the two steps completing
  where = {
    ["contracting.state"] = "COMPLETED",
    ["contracting.step"] = { signed, approval },
  },
  -- handed to on_event after ev and ctx (cheaper than ev.contracting.step...)
  fields = { "contracting.step", "contracting.contract_id" },

  on_event = function(ev, ctx, step, k)
    if step == approval then
      ctx:put("approved/" .. k, true, 90 * 86400000)
      ctx:cancel(k)
      ctx:put("signed/" .. k, nil)
      if ctx:is_firing("contract/" .. k) then
        ctx:resolve{ subject = "contract/" .. k,
                     summary = "Contract " .. k .. " got its compliance approval",
                     evidence = { resolution = "approved" } }
      end
    elseif step == signed and not ctx:get("approved/" .. k) then
      local s = ev.contracting
      ctx:put("signed/" .. k, { hcp = s.hcp_id, rep = s.rep_id, at = s.at_ms }, within + 86400000)
      ctx:arm(k, s.at_ms + within)
    end
  end,

  on_deadline = function(k, ctx)
    local signed = ctx:get("signed/" .. k)
    if not signed then return end
    local days = within // 86400000
    ctx:fire{
      subject = "contract/" .. k,
      severity = "CRITICAL",
      summary = string.format("Contract %s was signed without compliance approval within %d days",
                              k, days),
      evidence = { signed_at_ms = signed.at, within_days = days },
      hcp_id = signed.hcp, rep_id = signed.rep, contract_id = k,
    }
  end,
}
