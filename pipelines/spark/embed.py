#!/usr/bin/env python3
"""Embedding backfill on Spark: vectors for an export's documents, computed
by weaksignal itself on the executors, for `weaksignal import-vectors`.

    python embed.py EXPORT_DIR OUT_DIR --binary PATH --model-dir DIR
                    [--config FILE] [--master local[2]] [--partitions N]
                    [--task-cpus 1] [--shared-path] [--all]

EXPORT_DIR is `weaksignal export --format parquet --documents-only -o
EXPORT_DIR` (documents/, the vectors already stored in vectors/, manifest.json;
without --documents-only the export embeds every document first). Each partition of the documents is piped, one JSON
line per document, through `weaksignal embed-text --documents` (mapPartitions:
the model is loaded once per partition), so the vectors are weaksignal's own:
the same passage (title and text), tokenizer, kernels and model id. The job
writes OUT_DIR/vectors/month=YYYY-MM/part-*.parquet with the columns id,
model, content_hash and vector (array<float>), the export's layout.

By default only documents without a vector of the same content in
EXPORT_DIR/vectors are embedded (--all embeds every one). The binary, the
model directory and --config are shipped to the executors with
SparkContext.addFile (the `--files` of spark-submit); with --shared-path they
are used where they are, a path every executor sees. Each task runs one
weaksignal process with --task-cpus workers (spark.task.cpus), each on one
core.

Runs under spark-submit (the master comes from it) or as a plain script with
--master (Spark local mode, bound to 127.0.0.1, no UI). Prints one JSON line
on stdout: {"ok", "documents", "embedded", "model", "partitions", "master",
"seconds", "embed_seconds", "docs_per_second"}; exits 0 when every document
was embedded, 1 when a task failed (the reason on stderr), 2 on a usage error.
Needs pyspark (tests/spark/requirements.txt) and Java 17.
"""

import argparse
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time

T0 = time.monotonic()

LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.console.type = Console
appender.console.name = stderr
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark %p %c{1}: %m%n
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


def arguments():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("export_dir")
    p.add_argument("out_dir")
    p.add_argument("--binary", required=True, help="the weaksignal binary (Linux, the executors' architecture)")
    p.add_argument("--model-dir", required=True, help="the embedding model directory (weaksignal models fetch)")
    p.add_argument("--config", help="the config.toml whose [model] section the store embeds with")
    p.add_argument("--master", help="Spark master when run without spark-submit, e.g. local[2]")
    p.add_argument("--partitions", type=int, help="document partitions (default: the task slots, spark.default.parallelism)")
    p.add_argument("--task-cpus", type=int, default=1, help="cores per task (spark.task.cpus): weaksignal workers")
    p.add_argument("--shared-path", action="store_true", help="binary, model and config are on a path every executor sees")
    p.add_argument("--all", action="store_true", help="embed every document, not only those without a vector")
    return p.parse_args()


def shipped(name, shared_path, path):
    """The executor-side path of a file or directory the driver shipped."""
    if shared_path:
        return path
    from pyspark import SparkFiles

    return SparkFiles.get(name)


def manifest_model(export_dir):
    """The model id of the export's vectors (manifest.json), if it says."""
    try:
        with open(os.path.join(export_dir, "manifest.json")) as f:
            return json.load(f).get("model")
    except (OSError, ValueError):
        return None


def stage_model(model_dir, scratch):
    """The model directory to ship: the model's files without the wheel
    cache that `weaksignal models fetch` keeps beside them (hard links where
    the file system allows, so nothing large is copied on the driver)."""
    model_dir = os.path.abspath(model_dir.rstrip("/"))
    staged = os.path.join(scratch, "ship", os.path.basename(model_dir))

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(model_dir, staged, ignore=shutil.ignore_patterns("wheels", ".*"), copy_function=link)
    return staged


def embed_partition(settings):
    """mapPartitions function: pipe the partition's documents through
    `weaksignal embed-text --documents` and yield (id, model, content_hash,
    vector, month) rows."""

    def run(rows):
        rows = list(rows)
        if not rows:
            return
        binary = shipped(os.path.basename(settings["binary"]), settings["shared_path"], settings["binary"])
        if not os.access(binary, os.X_OK):
            # addFile does not keep the mode bits.
            os.chmod(binary, os.stat(binary).st_mode | stat.S_IXUSR)
        model = shipped(os.path.basename(settings["model_dir"].rstrip("/")), settings["shared_path"], settings["model_dir"])
        command = [binary, "-q", "embed-text", "--documents", "--workers", str(settings["task_cpus"]), "--model-dir", model]
        if settings["config"]:
            command += ["--config", shipped(os.path.basename(settings["config"]), settings["shared_path"], settings["config"])]
        env = dict(os.environ)
        # One core per weaksignal worker: candle's matmuls must not spread over
        # the cores that other tasks own.
        env["RAYON_NUM_THREADS"] = "1"
        env.pop("WEAKSIGNAL_DATA_DIR", None)
        month = {}
        with tempfile.TemporaryFile() as errors:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=env)

            def feed():
                try:
                    for r in rows:
                        line = json.dumps({"id": r["id"], "title": r["title"], "text": r["text"]}, ensure_ascii=False)
                        process.stdin.write(line.encode("utf-8") + b"\n")
                    process.stdin.close()
                except BrokenPipeError:
                    pass  # the process died: its exit code and stderr tell why

            for r in rows:
                month[r["id"]] = r["month"]
            writer = threading.Thread(target=feed, daemon=True)
            writer.start()
            out = []
            for line in process.stdout:
                v = json.loads(line)
                out.append((v["id"], v["model"], v["content_hash"], v["vector"], month[v["id"]]))
            code = process.wait()
            writer.join()
            if code != 0 or len(out) != len(rows):
                errors.seek(0)
                raise RuntimeError(
                    f"weaksignal embed-text --documents exited {code} after {len(out)} of {len(rows)} documents: "
                    + errors.read().decode("utf-8", "replace")[-2000:]
                )
        yield from out

    return run


def main():
    args = arguments()
    documents_dir = os.path.join(args.export_dir, "documents")
    if not os.path.isdir(documents_dir):
        print(f"embed.py: {documents_dir}: no such directory (the output of weaksignal export --format parquet)", file=sys.stderr)
        return 2
    for what, path in (("--binary", args.binary), ("--model-dir", args.model_dir), ("--config", args.config)):
        if path and not os.path.exists(path):
            print(f"embed.py: {what} {path}: no such file or directory", file=sys.stderr)
            return 2
    if args.task_cpus < 1:
        print("embed.py: --task-cpus must be at least 1", file=sys.stderr)
        return 2

    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    conf_dir = tempfile.mkdtemp(prefix="weaksignal-spark-")
    with open(os.path.join(conf_dir, "log4j2.properties"), "w") as f:
        f.write(LOG4J2)
    builder = (
        SparkSession.builder.appName("weaksignal-embed")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.task.cpus", str(args.task_cpus))
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{conf_dir}/log4j2.properties")
    )
    if args.master:
        builder = (
            builder.master(args.master)
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.local.dir", conf_dir)
        )
    spark = builder.getOrCreate()
    try:
        sc = spark.sparkContext
        if not args.shared_path:
            sc.addFile(os.path.abspath(args.binary))
            sc.addFile(stage_model(args.model_dir, conf_dir), recursive=True)
            if args.config:
                sc.addFile(os.path.abspath(args.config))

        docs = spark.read.parquet(documents_dir).select(
            "id", "title", "text", "content_hash", F.date_format("published", "yyyy-MM").alias("month")
        )
        total = docs.count()
        vectors_dir = os.path.join(args.export_dir, "vectors")
        if not args.all and os.path.isdir(vectors_dir):
            have = spark.read.parquet(vectors_dir).select("id", "content_hash")
            docs = docs.join(have, ["id", "content_hash"], "left_anti")
        # As many partitions as task slots unless told: each is one weaksignal
        # process, so fewer would leave cores idle.
        docs = docs.repartition(args.partitions or sc.defaultParallelism)
        settings = {
            "binary": os.path.abspath(args.binary),
            "model_dir": os.path.abspath(args.model_dir),
            "config": os.path.abspath(args.config) if args.config else None,
            "shared_path": args.shared_path,
            "task_cpus": args.task_cpus,
        }
        schema = T.StructType([
            T.StructField("id", T.StringType(), False),
            T.StructField("model", T.StringType(), False),
            T.StructField("content_hash", T.StringType(), False),
            T.StructField("vector", T.ArrayType(T.FloatType(), False), False),
            T.StructField("month", T.StringType(), False),
        ])
        rdd = docs.rdd.mapPartitions(embed_partition(settings))
        vectors = spark.createDataFrame(rdd, schema)
        out = os.path.join(args.out_dir, "vectors")
        started = time.monotonic()
        vectors.write.mode("overwrite").partitionBy("month").parquet(out)
        embed_seconds = time.monotonic() - started
        written = spark.read.parquet(out)
        embedded = written.count()
        models = [r["model"] for r in written.select("model").distinct().collect()]
        exported = manifest_model(args.export_dir)
        if not args.all and exported and models and models != [exported]:
            raise RuntimeError(
                f"the export's vectors are of {exported}, the binary embeds with {models}: "
                "documents with a vector of the other model were left out; rerun with --all"
            )
        summary = {
            "ok": True,
            "documents": total,
            "embedded": embedded,
            "model": models[0] if len(models) == 1 else models,
            "partitions": rdd.getNumPartitions(),
            "master": sc.master,
            "embed_seconds": round(embed_seconds, 2),
            "docs_per_second": round(embedded / embed_seconds, 1) if embed_seconds > 0 else None,
        }
    except Exception as e:  # a failed task: say why, exit 1
        print(f"embed.py: {e}", file=sys.stderr)
        summary = {"ok": False, "error": str(e)[:2000]}
    finally:
        spark.stop()
        shutil.rmtree(conf_dir, ignore_errors=True)
    summary["seconds"] = round(time.monotonic() - T0, 2)
    print(json.dumps(summary))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
