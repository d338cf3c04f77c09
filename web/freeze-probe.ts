// Is the page's main thread ever blocked? Three witnesses, all on the main thread: the browser's long-task
// entries (PerformanceObserver 'longtask': a task of 50 ms or more), the gaps between animation frames, and
// the gaps between 10 ms heartbeat timers. The footer shows the worst of each since the last reset; the
// browser test reads them (window.studioProbe) while training runs, and checks they catch a 60 ms busy loop.

export interface ProbeReport {
  /** The longest long task (ms), and how many there were (each >= 50 ms). */
  longestTask: number;
  longTasks: number;
  /** The longest gap between two animation frames, and between two heartbeats (ms). */
  frameGap: number;
  timerGap: number;
  frames: number;
  /** ms since the reset. */
  since: number;
}

export interface FreezeProbe {
  report(): ProbeReport;
  reset(): void;
}

export function startFreezeProbe(): FreezeProbe {
  let start = performance.now();
  let longestTask = 0;
  let longTasks = 0;
  let frameGap = 0;
  let timerGap = 0;
  let frames = 0;
  let lastFrame = -1;
  let lastBeat = performance.now();
  if (typeof PerformanceObserver !== 'undefined' && PerformanceObserver.supportedEntryTypes?.includes('longtask')) {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (e.startTime < start) continue;
        longTasks++;
        longestTask = Math.max(longestTask, e.duration);
      }
    }).observe({ type: 'longtask' });
  }
  const frame = (): void => {
    // The time the callback runs, not rAF's timestamp (the frame's start, rounded to the display's interval).
    const t = performance.now();
    if (lastFrame >= 0) frameGap = Math.max(frameGap, t - lastFrame);
    lastFrame = t;
    frames++;
    requestAnimationFrame(frame);
  };
  requestAnimationFrame(frame);
  setInterval(() => {
    const now = performance.now();
    timerGap = Math.max(timerGap, now - lastBeat);
    lastBeat = now;
  }, 10);
  return {
    report: () => ({ longestTask, longTasks, frameGap, timerGap, frames, since: performance.now() - start }),
    reset: () => {
      start = performance.now();
      longestTask = 0;
      longTasks = 0;
      frameGap = 0;
      timerGap = 0;
      frames = 0;
      lastFrame = -1;
      lastBeat = performance.now();
    },
  };
}
