/**
 * The notifications of a schedule or a pipeline (webhooks and e-mail of its run
 * ends): how each delivery went, its attempts and last error, and a Retry button
 * on those that failed. Shown on the schedule and pipeline pages; refreshed
 * while some are still pending.
 */
import { useEffect, useState } from 'preact/hooks';
import { listDeliveries, retryDelivery, type Delivery } from './api';
import { ErrorBox, Loading, When, useLoad } from './common';

/** The status classes of job states that read the same. */
const STATUS_CLASS: Record<Delivery['status'], string> = { pending: 'queued', delivered: 'succeeded', failed: 'failed' };

export function Deliveries({ kind, id }: { kind: 'schedules' | 'pipelines'; id: string }) {
  const list = useLoad(() => listDeliveries(kind, id), [kind, id]);
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const pending = (list.value?.deliveries ?? []).some((d) => d.status === 'pending');
  useEffect(() => {
    if (!pending) return;
    const t = setInterval(list.reload, 2000);
    return () => clearInterval(t);
  }, [pending, list.value]);

  const retry = async (d: Delivery) => {
    setBusy(d.id);
    setError(null);
    try {
      await retryDelivery(kind, id, d.id);
      list.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  return (
    <section aria-labelledby={`deliveries-${id}`}>
      <h2 id={`deliveries-${id}`}>Notifications</h2>
      {error != null && <ErrorBox error={error} />}
      {list.error ? <ErrorBox error={list.error} /> : !list.value ? <Loading /> : list.value.deliveries.length === 0 ? <p class="muted">No notifications sent yet.</p> : (
        <table class="jobs deliveries">
          <thead>
            <tr><th scope="col">Status</th><th scope="col">Channel</th><th scope="col">To</th><th scope="col">Event</th><th scope="col">Attempts</th><th scope="col">Last error</th><th scope="col">Next attempt</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            {list.value.deliveries.map((d) => (
              <tr key={d.id} data-delivery-id={d.id}>
                <td><span class={`status status-${STATUS_CLASS[d.status]}`}>{d.status}</span></td>
                <td>{d.channel === 'email' ? 'e-mail' : 'webhook'}</td>
                <td><code>{d.target}</code></td>
                <td>{d.event}</td>
                <td>{d.attempts}</td>
                <td>{d.last_error ?? <span class="muted">—</span>}</td>
                <td><When iso={d.next_attempt_at} /></td>
                <td><When iso={d.created_at} /></td>
                <td>
                  {d.status === 'failed' && (
                    <button type="button" disabled={busy === d.id} aria-label={`Retry ${d.channel === 'email' ? 'e-mail' : 'webhook'} to ${d.target}`} onClick={() => void retry(d)}>Retry</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
