/**
 * A progress bar for long CLI work: done/total, percentage, rate and ETA. Redraws one line on a
 * terminal; elsewhere (CI logs, pipes) prints the first tick, then a line at most every few
 * seconds, and the final line with the elapsed time.
 */
export type Progress = { tick(done: number): void; finish(): void };

export function progressBar(label: string, total: number, unit = 'rows', out = process.stderr): Progress {
  const started = performance.now();
  const tty = Boolean(out.isTTY);
  let lastPrint = Number.NEGATIVE_INFINITY;
  let done = 0;
  const render = (final: boolean) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const pct = total > 0 ? Math.min(100, (done / total) * 100) : 100;
    const width = 24;
    const filled = Math.round((pct / 100) * width);
    const eta = rate > 0 && !final ? `, ETA ${formatSeconds((total - done) / rate)}` : '';
    const line =
      `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${unit} ` +
      `${pct.toFixed(0)}% · ${Math.round(rate)} ${unit}/s${eta}${final ? ` · ${formatSeconds(seconds)}` : ''}`;
    out.write(tty ? `\r${line}\x1b[K${final ? '\n' : ''}` : `${line}\n`);
  };
  return {
    tick(n) {
      done = n;
      const now = performance.now();
      if (now - lastPrint > (tty ? 100 : 3000)) {
        lastPrint = now;
        render(false);
      }
    },
    finish() {
      render(true);
    },
  };
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}
