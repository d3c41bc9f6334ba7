// Loading a set of runs by id (compare and metric pages): runs/get per id, a few
// at a time, keeping the URL's order; a run that cannot be read is reported, not fatal.
import { get } from '../api.js';

const PARALLEL = 8;

/** [{id, run} | {id, error}] in the order of ids (duplicates dropped). */
export async function fetchRuns(ids, signal) {
    const uniq = [...new Set(ids)];
    const out = new Array(uniq.length);
    let next = 0;
    async function worker() {
        while (next < uniq.length) {
            const i = next++;
            try {
                const r = await get('runs/get', { run_id: uniq[i] }, signal);
                out[i] = { id: uniq[i], run: r.run };
            } catch (e) {
                if (e.name === 'AbortError') throw e;
                out[i] = { id: uniq[i], error: e };
            }
        }
    }
    await Promise.all(Array.from({ length: Math.min(PARALLEL, uniq.length) }, worker));
    return out;
}
