/**
 * Dashboard panel (admins, issue 22): today's (UTC) usage and cost by model, all users, most
 * expensive first, from `GET /api/v1/admin/usage/models`. Refreshed every few seconds.
 */
import { useCallback, useState } from "react";
import { ApiError } from "@/api/client";
import { api } from "@/api/endpoints";
import type { ModelUsage } from "@/api/types";
import { type PollControl, usePoll } from "@/hooks/use-poll";

const POLL_MS = 10_000;

/** USD with two significant digits for cheap models, never in exponent form: $12.34, $0.0042, $0. */
export function formatUsd(usd: number): string {
  if (!(usd > 0)) return "$0";
  if (usd >= 1) return `$${usd.toFixed(2)}`;
  if (usd < 0.000001) return "<$0.000001";
  const decimals = Math.min(6, 1 - Math.floor(Math.log10(usd)));
  return `$${usd.toFixed(decimals).replace(/0+$/, "")}`;
}

export function CostByModel() {
  const [rows, setRows] = useState<ModelUsage[] | null>(null);
  const [failed, setFailed] = useState(false);
  const poll = useCallback(async ({ stop }: PollControl) => {
    try {
      setRows(await api.usageByModel());
      setFailed(false);
    } catch (e) {
      // Not an admin (or an older gateway): nothing to show, no more asking.
      if (e instanceof ApiError && (e.status === 403 || e.status === 404)) {
        setRows(null);
        stop();
        return;
      }
      setFailed(true);
    }
  }, []);
  usePoll(poll, POLL_MS);
  if (rows === null && !failed) return null;
  const total = (rows ?? []).reduce((sum, r) => sum + r.cost_usd, 0);
  return (
    <section aria-labelledby="cost-by-model" data-testid="cost-by-model">
      <h2 id="cost-by-model" className="mb-3 text-base font-semibold">
        Cost by model <span className="ml-2 text-xs font-normal text-zinc-500">(today, UTC · all users)</span>
      </h2>
      {failed && <p className="text-sm text-zinc-500">The usage figures cannot be read right now.</p>}
      {rows && rows.length === 0 && <p className="text-sm text-zinc-500">No model has been used today.</p>}
      {rows && rows.length > 0 && (
        <div className="card overflow-x-auto p-0">
          <table className="w-full text-sm">
            <thead className="text-left text-xs text-zinc-500">
              <tr>
                <th className="px-3 py-2 font-medium">Model</th>
                <th className="px-3 py-2 text-right font-medium">Requests</th>
                <th className="px-3 py-2 text-right font-medium">Tokens in</th>
                <th className="px-3 py-2 text-right font-medium">Tokens out</th>
                <th className="px-3 py-2 text-right font-medium">Cost</th>
              </tr>
            </thead>
            <tbody className="tabular-nums">
              {rows.map((r) => (
                <tr key={r.model} className="border-t border-zinc-100 dark:border-zinc-800" data-testid="cost-row" data-model={r.model}>
                  <td className="px-3 py-2 font-mono text-xs break-all">{r.model}</td>
                  <td className="px-3 py-2 text-right">{r.requests.toLocaleString()}</td>
                  <td className="px-3 py-2 text-right">{r.prompt_tokens.toLocaleString()}</td>
                  <td className="px-3 py-2 text-right">{r.completion_tokens.toLocaleString()}</td>
                  <td className="px-3 py-2 text-right" data-testid="cost-usd">{formatUsd(r.cost_usd)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr className="border-t border-zinc-200 font-medium dark:border-zinc-700">
                <td className="px-3 py-2" colSpan={4}>
                  Total
                </td>
                <td className="px-3 py-2 text-right tabular-nums" data-testid="cost-total">{formatUsd(total)}</td>
              </tr>
            </tfoot>
          </table>
        </div>
      )}
    </section>
  );
}
