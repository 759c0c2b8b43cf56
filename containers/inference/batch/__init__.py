"""The image's third mode, `serve.py batch --manifest s3://...`: score JSON Lines in S3 with the model in-process.

One run is one AWS Batch job, or one child of an array job (AWS_BATCH_JOB_ARRAY_INDEX): it reads the batch's
manifest (written by lambdas/batch_submit), scores its own slice of the parts and writes, per part, the predictions,
the bad records and a done marker under the manifest's output prefix. A retried child skips the parts whose marker
exists, so runs are resumable and idempotent. Memory stays bounded whatever the input size: input is streamed in
chunks, records are scored in batches, and outputs are streamed through multipart uploads.

- records.py: JSON Lines records -> feature rows, ids and error lines; predictions -> JSON Lines
- s3io.py: the lines of a byte range of an object, and a streaming object writer
- job.py: manifest, slice, resume, the scoring loop and the command line
"""
