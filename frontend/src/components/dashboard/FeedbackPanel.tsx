import { ThumbsDown, ThumbsUp } from "lucide-react";
import { useEffect, useState } from "react";
import { api } from "@/api/endpoints";
import type { FeedbackPerModel } from "@/api/types";
import { humanError } from "@/lib/errors";

/**
 * Thumbs up and down per model over everyone's rated answers (administrators: the counts
 * cover every user). Read once when the dashboard opens: ratings change slowly.
 */
export function FeedbackPanel() {
  const [data, setData] = useState<FeedbackPerModel | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    api
      .feedbackPerModel()
      .then((d) => live && setData(d))
      .catch((e: unknown) => live && setError(humanError(e).message));
    return () => {
      live = false;
    };
  }, []);

  return (
    <section aria-labelledby="answer-feedback" data-testid="feedback-panel">
      <h2 id="answer-feedback" className="mb-3 text-base font-semibold">
        Answer feedback per model
      </h2>
      {error && <p className="text-sm text-red-600 dark:text-red-400">{error}</p>}
      {!error && !data && <p className="text-sm text-zinc-500">Loading…</p>}
      {data && data.models.length === 0 && <p className="text-sm text-zinc-500">No answer has been rated yet.</p>}
      {data && data.models.length > 0 && (
        <table className="w-full text-sm">
          <thead>
            <tr className="text-left text-xs text-zinc-500">
              <th className="py-1 font-medium">Model</th>
              <th className="py-1 text-right font-medium">
                <ThumbsUp size={12} className="inline" aria-hidden /> Helpful
              </th>
              <th className="py-1 text-right font-medium">
                <ThumbsDown size={12} className="inline" aria-hidden /> Not helpful
              </th>
              <th className="py-1 text-right font-medium">Share helpful</th>
            </tr>
          </thead>
          <tbody>
            {data.models.map((m) => (
              <tr key={m.model} className="border-t border-zinc-100 dark:border-zinc-800" data-testid="feedback-row">
                <td className="max-w-0 truncate py-1.5 font-mono text-xs" title={m.model}>
                  {m.model}
                </td>
                <td className="py-1.5 text-right tabular-nums" data-testid="feedback-up">
                  {m.up}
                </td>
                <td className="py-1.5 text-right tabular-nums" data-testid="feedback-down">
                  {m.down}
                </td>
                <td className="py-1.5 text-right tabular-nums text-zinc-500">{Math.round((100 * m.up) / Math.max(1, m.up + m.down))} %</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
