"""The lab: training runs of lrlab schedules, and their results.

`data` (IDX files, Fashion-MNIST), `models` (the chapter's networks),
`train` (a job of runs trained side by side on the same batches), `store`
(the result folder: job.json, metrics, checkpoints), `findlr` (the range
test), `presets` and `experiments` (the built-in experiments, starting with
the chapter's). torch is imported by the modules that train, never by this
package itself.
"""
