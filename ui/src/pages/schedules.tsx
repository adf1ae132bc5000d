/**
 * Seam for the Schedules pages: the schedules API is built on another branch.
 * The nav entry and the notebook page's "Schedule…" link (`#/schedules/new?notebook=…&user=…`)
 * land here; the real pages replace this component.
 */
import { href } from '../common';

export function SchedulesPage({ notebook }: { notebook: string | null }) {
  return (
    <main>
      <h1>Schedules</h1>
      <p>Scheduled runs are not available in this version of hubmill yet.</p>
      {notebook && <p><a href={href('/notebook', { path: notebook })}>Back to {notebook}</a></p>}
    </main>
  );
}
