/**
 * The PipelineStore, written once for both databases: every method is store-core
 * steps (core/pipeline-runs.ts, core/pipeline-sql.ts); a backend only says how
 * to run steps in a transaction and outside one, and how to wake runners
 * (SqlitePipelineStore, PgPipelineStore).
 */
import type { Visibility } from '../sharing-store.js';
import type { Pipeline, PipelinePlan, PipelineSpec } from '../../pipelines/types.js';
import type { JobTarget } from '../job-store.js';
import type { NewPipeline, NewPipelineRun, PageQuery, PipelineRun, PipelineStore, RepairRequest } from '../pipeline-store.js';
import { pageOf } from './page.js';
import { byFinish } from './job-rules.js';
import { PipelineRuns, type RunEffects } from './pipeline-runs.js';
import { newPipelineId, rowToPipeline, type PipelineRow, type RunRow } from './pipeline-sql.js';
import { firstOf, rowsOf, type Steps } from './steps.js';
import type { SqlDialect } from './dialect.js';

/** Runs (or starts of queued runs) advanceDue looks at per call. */
const DUE_BATCH = 200;

export abstract class PipelineStoreCore implements PipelineStore {
  protected readonly runs: PipelineRuns;
  /** The end of the window advanceDue last looked at for retries whose backoff ended. */
  private retriesSeenUntilMs = 0;

  constructor(
    d: SqlDialect,
    protected readonly now: () => number,
    /** The target of the jobs this store's runs start ('user-server' with HUBMILL_HOMES=user-server). */
    protected readonly jobTarget: JobTarget,
  ) {
    this.runs = new PipelineRuns(d);
  }

  /** Runs the steps in one write transaction; the jobs they queued are announced to runners after it commits. */
  protected abstract tx<T>(make: (fx: RunEffects) => Steps<T>): Promise<T>;
  /** Runs read-only steps outside a transaction. */
  protected abstract read<T>(steps: Steps<T>): Promise<T>;
  /** Wakes runners: jobs became claimable without being queued (a retry's backoff ended). */
  protected abstract wakeRunners(): Promise<void>;

  async createPipeline(p: NewPipeline): Promise<Pipeline> {
    const now = this.now();
    const sql = this.runs.sql;
    return this.tx(function* () {
      return rowToPipeline((yield* firstOf<PipelineRow>(sql.insertPipeline(newPipelineId(now), p, now)))!);
    });
  }

  async getPipeline(id: string): Promise<Pipeline | null> {
    const r = await this.read(firstOf<PipelineRow>(this.runs.sql.pipeline(id)));
    return r ? rowToPipeline(r) : null;
  }

  async listPipelines(q: PageQuery & { owner?: string; visible?: Visibility }): Promise<{ pipelines: Pipeline[]; next_cursor: string | null }> {
    const query = this.runs.sql.listPipelines(q);
    const page = pageOf(await this.read(rowsOf<PipelineRow>(query)), query.limit);
    return { pipelines: page.rows.map(rowToPipeline), next_cursor: page.next_cursor };
  }

  async updatePipeline(id: string, p: PipelineSpec & { plan: PipelinePlan }): Promise<Pipeline | null> {
    const now = this.now();
    const runs = this.runs;
    const r = await this.tx(function* (fx) {
      const r = yield* firstOf<PipelineRow>(runs.sql.updatePipeline(id, p, now));
      // A larger max_concurrent_runs lets queued runs start now.
      if (r) yield* runs.startQueued(id, now, fx);
      return r;
    });
    return r ? rowToPipeline(r) : null;
  }

  async deletePipeline(id: string): Promise<boolean> {
    const now = this.now();
    const runs = this.runs;
    return this.tx(function* (fx) {
      yield* runs.cancelQueuedRuns(id, now, fx);
      return (yield* rowsOf(runs.sql.deletePipeline(id))).length > 0;
    });
  }

  async createRun(r: NewPipelineRun): Promise<PipelineRun> {
    const now = this.now();
    const runs = this.runs;
    const target = this.jobTarget;
    return this.tx(function* (fx) {
      const id = yield* runs.createRun(r, target, now, fx);
      return (yield* runs.loadRun(id))!;
    });
  }

  async getRun(id: string): Promise<PipelineRun | null> {
    return this.read(this.runs.loadRun(id));
  }

  async listRuns(pipelineId: string, q: PageQuery): Promise<{ runs: PipelineRun[]; next_cursor: string | null }> {
    const query = this.runs.sql.listRuns(pipelineId, q);
    const runs = this.runs;
    return this.read(
      (function* () {
        const page = pageOf(yield* rowsOf<RunRow>(query), query.limit);
        return { runs: yield* runs.loadRuns(page.rows), next_cursor: page.next_cursor };
      })(),
    );
  }

  async cancelRun(id: string): Promise<PipelineRun | null> {
    const now = this.now();
    const runs = this.runs;
    return this.tx(function* (fx) {
      return (yield* runs.cancelRun(id, now, fx)) ? yield* runs.loadRun(id) : null;
    });
  }

  async repairRun(id: string, req: RepairRequest): Promise<PipelineRun | null> {
    const now = this.now();
    const runs = this.runs;
    return this.tx(function* (fx) {
      return (yield* runs.repairRun(id, req, now, fx)) ? yield* runs.loadRun(id) : null;
    });
  }

  /**
   * Advances, each in its own transaction, the running runs whose state lags their jobs (a run another
   * transaction is advancing is left to it), starts queued runs whose pipeline has room, and wakes runners
   * for retries whose backoff ended since the last call. Returns how many runs changed.
   */
  async advanceDue(nowMs: number): Promise<number> {
    const runs = this.runs;
    let changed = 0;
    // One run that cannot advance (its transaction fails) holds back none of the others; its error is thrown after.
    let failure: unknown = null;
    const each = async (fn: () => Promise<number>): Promise<void> => {
      try {
        changed += await fn();
      } catch (err) {
        failure ??= err;
      }
    };
    for (const r of await this.read(rowsOf<{ id: string }>(runs.sql.laggingRuns(DUE_BATCH)))) {
      await each(async () => ((await this.tx((fx) => runs.advance(r.id, nowMs, fx, 'skip'))) ? 1 : 0));
    }
    for (const p of await this.read(rowsOf<{ pipeline_id: string }>(runs.sql.pipelinesWithQueuedRuns(DUE_BATCH)))) {
      await each(() =>
        this.tx(function* (fx) {
          yield* runs.startQueued(p.pipeline_id, nowMs, fx);
          return fx.changed;
        }),
      );
    }
    const since = this.retriesSeenUntilMs;
    this.retriesSeenUntilMs = Math.max(since, nowMs);
    const due = await this.read(firstOf<{ n: number }>(runs.sql.retriesDue(since, nowMs)));
    if ((due?.n ?? 0) > 0) await this.wakeRunners();
    if (failure !== null) throw failure;
    return changed;
  }

  /**
   * Ended runs not yet taken for their end's notification (pipeline `notify`), oldest end first; each is taken
   * once, by one caller (a run repaired and ended again is taken again).
   */
  async takeEndedRuns(limit: number): Promise<PipelineRun[]> {
    const runs = this.runs;
    return this.tx(function* () {
      // RETURNING gives them in no order.
      return yield* runs.loadRuns((yield* rowsOf<RunRow>(runs.sql.takeEnded(limit))).sort(byFinish));
    });
  }
}
