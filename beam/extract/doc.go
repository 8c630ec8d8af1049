// Package extract is gozoo extract as an Apache Beam pipeline: the same
// rows, split over workers of any Beam runner (prism in-process, Flink,
// Spark, Dataflow).
//
// The pipeline lists the inputs through Beam's filesystems (globs, and
// list files of PATH or PATH<TAB>LABEL lines read as gozoo extract reads
// them), numbers them in input order and cuts them into batches of
// consecutive inputs. Each worker's DoFn starts a gozoo plugin host, the
// plugin and the model once (Setup; Teardown closes them), and for each
// batch decodes and preprocesses the images with the code gozoo extract
// runs (zoo/dataset, zoo/imageproc), extracts the layers in one forward
// pass, and writes one shard (zoo/featfile: the .npz or .safetensors file
// gozoo extract writes, rows with their paths and labels). A last step
// writes PREFIX-manifest.json listing every shard, the input range it
// covers, its rows and the inputs it skipped; `gozoo features merge`
// joins the shards in input order into the file gozoo extract writes.
//
// Output is exactly-once under retries. A shard's name is a hash of the
// run's settings and of its batch's input positions and paths, so a
// retried batch writes the same name; the shard is written under a
// temporary name and renamed into place (on object stores, whose objects
// appear whole, it is uploaded under its name), so a retry replaces it and
// a reader never sees half a shard. The manifest step keeps one entry per
// input range and checks that the shards cover every input exactly once.
//
// Retries: a runner such as Dataflow retries a failed bundle on a fresh
// DoFn instance. Prism (v2.77.0) does not: it fails the job on the first
// bundle error. So the DoFn retries a failed batch itself, as a runner
// would: it closes its model and plugin, starts fresh ones and runs the
// batch again, up to Config.Attempts times. An image that does not decode
// is not retried: with OnError "skip" it is recorded and skipped (in its
// shard and the manifest), with "fail" the job fails with an error naming
// the image.
package extract
