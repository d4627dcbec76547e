#!/usr/bin/env python3
"""Hand-over test: Spark reads `weaksignal export --format parquet -o DIR`.

    python weekly_counts.py DIR

Runs Spark in local mode (local[2], bound to 127.0.0.1, no UI) and checks that
what weaksignal exported is what a distributed engine sees:

1. the column types are the documented ones (timestamps tz-aware
   microseconds, topic and docs 64-bit): Spark reads `published` as an
   instant, not a wall-clock time;
2. the per-topic weekly document counts that Spark SQL computes from
   DIR/assignments (weeks start Monday 00:00 UTC, null topics excluded) equal
   DIR/topic_weekly_counts.parquet (computed by polars inside weaksignal) row
   for row: exceptAll both ways, and the row counts;
3. every assignment has its document in DIR/documents (join on id);
4. DIR/documents holds manifest.json's "documents" rows;
5. every row sits in the month=YYYY-MM partition of its `published` (UTC).

Prints one JSON line on stdout:
  {"ok", "rows_spark", "rows_polars", "only_in_spark", "only_in_polars",
   "documents", "weeks", "topics", "seconds", ...}
and exits 0 when everything matches, 1 when anything differs or cannot be
read (with the reasons and up to 10 differing rows on stderr), 2 on a usage
error. Needs only pyspark (tests/spark/requirements.txt) and Java 17.
"""

import json
import os
import shutil
import sys
import tempfile
import time

T0 = time.monotonic()

# The Spark SQL that the export's topic_weekly_counts must equal (docs/scaling.md shows it).
WEEKLY_COUNTS_SQL = """
SELECT topic,
       date_trunc('week', published) AS week_start,
       count(*)                      AS docs
FROM assignments
WHERE topic IS NOT NULL
GROUP BY topic, date_trunc('week', published)
"""

# Expected Spark types of the columns this test reads (Spark's simpleString).
# timestamp = Parquet TIMESTAMP(MICROS, isAdjustedToUTC=true), i.e. Arrow
# timestamp[us, tz=UTC]; a zone-less column would read as timestamp_ntz.
EXPECTED = {
    "assignments": {"id": "string", "topic": "bigint", "published": "timestamp"},
    "documents": {
        "id": "string", "source": "string", "url": "string", "title": "string",
        "text": "string", "lang": "string", "published": "timestamp",
        "fetched_at": "timestamp", "content_hash": "string",
    },
    "topic_weekly_counts": {"topic": "bigint", "week_start": "timestamp", "docs": "bigint"},
}

SHOW = 10  # differing rows shown per side

LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.console.type = Console
appender.console.name = stderr
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = spark %p %c{1}: %m%n
# pyspark's gateway counts as a shell: without these Spark resets the level to WARN.
logger.repl.name = org.apache.spark.repl.Main
logger.repl.level = error
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""


def finish(summary, errors):
    summary["ok"] = not errors
    summary["seconds"] = round(time.monotonic() - T0, 2)
    print(json.dumps(summary), flush=True)
    if errors:
        print("weekly_counts.py: the export does not match:", file=sys.stderr)
        for e in errors:
            print("  " + e.replace("\n", "\n    "), file=sys.stderr)
    sys.exit(0 if not errors else 1)


def start_spark(tmp):
    # Bind everything to loopback before the JVM starts; keep the log to errors.
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    os.environ["SPARK_LOCAL_HOSTNAME"] = "localhost"
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    log4j = os.path.join(tmp, "log4j2.properties")
    with open(log4j, "w") as f:
        f.write(LOG4J2)
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("weaksignal-handover")
        .config("spark.driver.memory", "1g")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.extraJavaOptions",
                f"-Dlog4j2.configurationFile=file:{log4j} -Duser.timezone=UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        # month=2020-01 stays the string it is in the directory name.
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.local.dir", os.path.join(tmp, "local"))
        .config("spark.sql.warehouse.dir", os.path.join(tmp, "warehouse"))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def reason(e):
    """One readable line: the root cause of a JVM error, or the Python error."""
    text = str(e).strip()
    line = text.splitlines()[0] if text else ""
    cause = getattr(e, "java_exception", None)  # py4j.protocol.Py4JJavaError
    try:
        while cause is not None:
            line = str(cause.toString()).splitlines()[0]
            nxt = cause.getCause()
            cause = None if nxt is None or nxt.equals(cause) else nxt
    except Exception:
        pass
    if "NANOS" in line:
        line += " (write timestamp[us, tz=UTC]: Spark 3.5 cannot read nanosecond timestamps)"
    return line or type(e).__name__


def schema_errors(name, df):
    errors = []
    actual = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    for col, want in EXPECTED[name].items():
        got = actual.get(col)
        if got is None:
            errors.append(f"{name}: column {col!r} is missing (columns: {', '.join(actual)})")
        elif got != want:
            hint = ""
            if got == "timestamp_ntz":
                hint = " (the Parquet column has no time zone: write timestamp[us, tz=UTC])"
            errors.append(f"{name}.{col}: Spark reads {got}, expected {want}{hint}")
    return errors


def fmt_rows(df):
    """Up to SHOW rows of (topic, week_start, docs), week_start as RFC 3339 UTC."""
    from pyspark.sql import functions as F

    rows = (
        df.orderBy("topic", "week_start", "docs")
        .select("topic", F.date_format("week_start", "yyyy-MM-dd'T'HH:mm:ssXXX").alias("w"), "docs")
        .limit(SHOW)
        .collect()
    )
    return "\n".join(f"topic={r['topic']} week_start={r['w']} docs={r['docs']}" for r in rows)


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print("usage: weekly_counts.py EXPORT_DIR   (from weaksignal export --format parquet -o EXPORT_DIR)",
              file=sys.stderr)
        return 2
    root = os.path.abspath(argv[1])
    paths = {
        "assignments": os.path.join(root, "assignments"),
        "documents": os.path.join(root, "documents"),
        "topic_weekly_counts": os.path.join(root, "topic_weekly_counts.parquet"),
        "manifest": os.path.join(root, "manifest.json"),
    }
    summary = {"ok": False, "rows_spark": None, "rows_polars": None, "only_in_spark": None,
               "only_in_polars": None, "documents": None, "weeks": None, "topics": None, "seconds": None}
    missing = [p for p in paths.values() if not os.path.exists(p)]
    if missing:
        finish(summary, [f"missing: {p}" for p in missing])
    try:
        with open(paths["manifest"]) as f:
            manifest = json.load(f)
        manifest_documents = manifest["documents"]
        if not isinstance(manifest_documents, int) or isinstance(manifest_documents, bool):
            raise ValueError(f'"documents" is {manifest_documents!r}, not an integer')
    except (OSError, ValueError, KeyError, TypeError) as e:
        finish(summary, [f"{paths['manifest']}: unreadable or no integer \"documents\": {e!r}"])
    summary["manifest_documents"] = manifest_documents

    tmp = tempfile.mkdtemp(prefix="weaksignal-spark-")
    spark = None
    try:
        spark = start_spark(tmp)
        from pyspark.sql import functions as F

        frames, errors = {}, []
        for name in ("assignments", "documents", "topic_weekly_counts"):
            try:
                frames[name] = spark.read.parquet(paths[name])
            except Exception as e:
                errors.append(f"{name}: Spark cannot read it: {reason(e)}")
                continue
            errors += schema_errors(name, frames[name])
        if errors:
            finish(summary, errors)
        asg, docs, polars = frames["assignments"], frames["documents"], frames["topic_weekly_counts"]

        # 2. weekly counts: Spark SQL against polars' table, exactly.
        asg.createOrReplaceTempView("assignments")
        ours = spark.sql(WEEKLY_COUNTS_SQL).cache()
        theirs = polars.select("topic", "week_start", "docs").cache()
        only_spark = ours.exceptAll(theirs).cache()
        only_polars = theirs.exceptAll(ours).cache()
        totals = ours.agg(F.count(F.lit(1)).alias("rows"),
                          F.countDistinct("week_start").alias("weeks"),
                          F.countDistinct("topic").alias("topics")).first()
        summary["rows_spark"] = totals["rows"]
        summary["rows_polars"] = theirs.count()
        summary["only_in_spark"] = only_spark.count()
        summary["only_in_polars"] = only_polars.count()
        summary["weeks"] = totals["weeks"]
        summary["topics"] = totals["topics"]
        if summary["rows_spark"] != summary["rows_polars"]:
            errors.append(f"topic_weekly_counts: Spark computes {summary['rows_spark']} rows, "
                          f"the export has {summary['rows_polars']}")
        if summary["only_in_spark"]:
            errors.append(f"{summary['only_in_spark']} rows computed by Spark but not in topic_weekly_counts "
                          f"(first {SHOW}):\n{fmt_rows(only_spark)}")
        if summary["only_in_polars"]:
            errors.append(f"{summary['only_in_polars']} rows in topic_weekly_counts but not computed by Spark "
                          f"(first {SHOW}):\n{fmt_rows(only_polars)}")

        # 3. every assignment has its document.
        unmatched = asg.join(docs.select("id"), on="id", how="left_anti")
        summary["unmatched_assignments"] = unmatched.count()
        if summary["unmatched_assignments"]:
            ids = ", ".join(r["id"] for r in unmatched.orderBy("id").limit(SHOW).collect())
            errors.append(f"{summary['unmatched_assignments']} assignments have no document "
                          f"(first {SHOW} ids): {ids}")

        # 4. the documents are the manifest's; 5. each row sits in the month
        # partition of its publication (UTC). One pass over each table.
        misplaced = 0
        for name, df in (("documents", docs), ("assignments", asg)):
            if "month" not in df.columns:
                errors.append(f"{name}: no month=YYYY-MM partition directories")
                if name == "documents":
                    summary["documents"] = df.count()
                continue
            wrong = F.date_format("published", "yyyy-MM") != F.col("month")
            row = df.agg(F.count(F.lit(1)).alias("rows"),
                         F.count(F.when(wrong, True)).alias("misplaced")).first()
            if name == "documents":
                summary["documents"] = row["rows"]
            misplaced += row["misplaced"]
            if row["misplaced"]:
                rows = (df.where(wrong)
                        .select("id", "month",
                                F.date_format("published", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX").alias("p"))
                        .orderBy("id").limit(SHOW).collect())
                errors.append(f"{name}: {row['misplaced']} rows in the wrong month partition "
                              f"(first {SHOW}):\n"
                              + "\n".join(f"id={r['id']} month={r['month']} published={r['p']}" for r in rows))
        if summary["documents"] != manifest_documents:
            errors.append(f"documents: Spark reads {summary['documents']} rows, "
                          f"manifest.json says {manifest_documents}")
        summary["misplaced"] = misplaced
        finish(summary, errors)
    except SystemExit:
        raise
    except Exception as e:  # a Spark or JVM failure is a failed hand-over, not a crash
        finish(summary, [f"Spark failed: {reason(e)}"])
    finally:
        if spark is not None:
            spark.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
