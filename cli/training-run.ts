// A training subcommand's run, after it has parsed its flags and built its task: the engine on a checkpoint
// directory (locked while the run trains), the progress bar and one line per evaluation (in the command's
// own words) drawn from the engine's events, Ctrl-C (finish the step, save a checkpoint, exit 130; a second
// Ctrl-C exits at once), and exit 3, naming the step, when the loss diverges.

import { checkpointDirectory } from '../src/train/checkpoint-directory.js';
import { DivergedError, trainTask, type EngineOptions, type EvalRecord, type TaskDefinition, type TrainingTask } from '../src/train/engine.js';
import { ProgressBar } from './progress.js';

export async function runTraining<T extends TrainingTask>(
  definition: TaskDefinition<T>, options: EngineOptions, out: string, evalLine: (record: EvalRecord, sample: string | null) => string,
): Promise<number> {
  const bar = new ProgressBar();
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
  };
  process.on('SIGINT', onSigint);
  try {
    const r = await trainTask(definition, options, {
      store: checkpointDirectory(out),
      shouldStop: () => interrupted,
      onEvent: (e) => {
        switch (e.kind) {
          case 'start':
            process.stdout.write(`training ${e.description}, checkpoints in ${out}\n`);
            break;
          case 'notice':
            bar.clear();
            process.stderr.write(`recurrent: ${e.message}\n`);
            break;
          case 'step':
            bar.update(e);
            break;
          case 'eval':
            bar.clear();
            process.stdout.write(evalLine(e.record, e.sample) + '\n');
            break;
          case 'checkpoint':
            break;
          default:
            e satisfies never;
        }
      },
    });
    bar.clear();
    r.task.model.dispose();
    if (r.stopped) process.stderr.write(`interrupted at step ${r.step}: checkpoint saved in ${out}; continue with --resume\n`);
    return r.stopped ? 130 : 0;
  } catch (e) {
    bar.clear();
    if (e instanceof DivergedError) {
      process.stderr.write(`recurrent: ${e.message}\n`);
      return 3;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
