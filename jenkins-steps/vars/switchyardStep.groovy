// The machinery the Switchyard steps share (blueGreenDeploy, canaryDeploy,
// deployNotify): run one Switchyard executable with sh(returnStatus: true),
// read its JSON result, and turn its exit code into a Jenkins outcome.
//
// Exit codes (jenkins-steps/README.md, "Exit codes in Jenkins"):
//   0    continue
//   1    error: the operation ran and failed; the step already rolled back
//        (deploy-switch --rollback-on-failure, deploy-weight: weight 0)
//   2    error: bad input, a pipeline bug; nothing changed
//   3    error: precondition not met; nothing changed
//   4    busy: another operation holds the app's lease; nothing changed, so
//        the step is run again after busyWait seconds, up to busyRetries times
//        (default 2 × 30 s: a dead holder's lease expires after 30 s), then error
//   5    error: cluster unreachable or not authorized
//   124  error: timed out, with the last observed state from the result
//   127  error: the executable is not on the agent's PATH
//
// Every value on a command line goes through q(): single-quoted for /bin/sh,
// so an image, a message or a path cannot break out of its argument.
// Webhook URLs never reach a command line: deploy-notify reads them from an
// environment variable that withCredentials binds.

/** `value` single-quoted for /bin/sh: it's → 'it'\''s'. */
String q(Object value) {
    String s = value == null ? '' : value.toString()
    return "'" + s.replace("'", "'\\''") + "'"
}

/** A command line from words, each quoted. */
String commandLine(List words) {
    List quoted = []
    for (w in words) {
        quoted.add(q(w))
    }
    return quoted.join(' ')
}

/** True for null and for readJSON's JSONNull (which is not == null in Groovy). */
boolean isNull(Object v) {
    return v == null || v.equals(null)
}

/** doc.a.b.c, or null when any part is missing or JSON null. */
Object field(Object doc, List path) {
    Object cur = doc
    for (p in path) {
        if (isNull(cur) || !(cur instanceof Map)) {
            return null
        }
        cur = cur.get(p)
    }
    return isNull(cur) ? null : cur
}

/** The kubectl flags every executable takes, from a step's arguments. */
List kubeArgs(Map args) {
    List a = []
    if (args.kubeconfig) {
        a.addAll(['--kubeconfig', args.kubeconfig.toString()])
    }
    if (args.context) {
        a.addAll(['--context', args.context.toString()])
    }
    if (args.namespace) {
        a.addAll(['--namespace', args.namespace.toString()])
    }
    return a
}

/** Fails (error) naming every required argument that is missing. */
void require(Map args, String step, List names) {
    List missing = []
    for (n in names) {
        if (args[n] == null || args[n].toString().trim() == '') {
            missing.add(n)
        }
    }
    if (missing) {
        error("${step}: missing argument(s) ${missing.join(', ')}")
    }
}

/**
 * Runs one executable and returns what happened:
 * [exitCode, ok, doc (the JSON result or null), message, hint, summary, what].
 *
 *   bin:          deploy-switch, kubectl-bluegreen, ...
 *   args:         its arguments (a list; each is quoted)
 *   what:         how messages name the operation ("switch of web")
 *   tag:          part of the result file name (the app), so parallel branches do not clash
 *   resultFile:   true (default) for the step executables (--result-file);
 *                 false for the kubectl plugins, whose `-o json` document is
 *                 taken from stdout and whose error line from stderr
 *   busyRetries, busyWait: see exit code 4 above
 */
Map run(Map o) {
    String bin = o.bin.toString()
    String what = (o.what ?: bin).toString()
    String base = ".switchyard/${bin}-${(o.tag ?: 'run').toString().replaceAll('[^A-Za-z0-9_.-]', '_')}"
    String json = "${base}.json"
    String err = "${base}.err"
    String rcFile = "${base}.rc"
    boolean resultFile = o.resultFile == null ? true : (o.resultFile as boolean)
    int retries = o.busyRetries == null ? 2 : (o.busyRetries as int)
    int wait = o.busyWait == null ? 30 : (o.busyWait as int)
    List words = [bin]
    words.addAll(o.args ?: [])
    String script
    if (resultFile) {
        words.addAll(['--result-file', json])
        script = "mkdir -p .switchyard\nrm -f ${q(json)}\n${commandLine(words)}\n"
    } else {
        // POSIX sh: the document to a file, stderr live to the log and to a
        // file (for the error line), the exit code through a third file.
        script = "set +e\nmkdir -p .switchyard\nrm -f ${q(json)} ${q(err)} ${q(rcFile)}\n" +
            "{ ${commandLine(words)} 2>&1 >${q(json)}; echo \$? >${q(rcFile)}; } | tee ${q(err)} >&2\n" +
            "exit \"\$(cat ${q(rcFile)} 2>/dev/null || echo 1)\"\n"
    }
    Map r
    int attempt = 0
    while (true) {
        int code = sh(script: script, returnStatus: true, label: what)
        r = outcome(code, json, resultFile ? null : err, what)
        if (code != 4 || attempt >= retries) {
            break
        }
        attempt++
        echo("switchyard: ${what} is busy (${r.message}); nothing changed; retry ${attempt}/${retries} in ${wait}s")
        sleep(time: wait, unit: 'SECONDS')
    }
    return r
}

/** Reads what an executable left behind into the map run() returns. */
Map outcome(int code, String json, String errFile, String what) {
    Object doc = null
    if (fileExists(json)) {
        String text = readFile(json).trim()
        if (text) {
            doc = readJSON(text: text)
        }
    }
    String message = field(doc, ['error', 'message'])
    String hint = field(doc, ['error', 'hint'])
    if (errFile != null && fileExists(errFile)) {
        for (line in readFile(errFile).readLines()) {
            if (line.startsWith('error: ')) {
                message = line.substring(7)
            } else if (line.startsWith('hint: ')) {
                hint = line.substring(6)
            }
        }
    }
    String summary = field(doc, ['summary'])
    if (!message && code != 0) {
        message = summary ?: "exit code ${code}"
    }
    return [exitCode: code, ok: code == 0, doc: doc, message: message, hint: hint, summary: summary, what: what]
}

/** The last observed state a timed-out step reported (124), for the error message. */
String lastObserved(Map r) {
    List parts = []
    String observed = field(r.doc, ['result', 'observed', 'summary'])
    if (!observed) {
        observed = field(r.doc, ['result', 'observed'])?.toString()
    }
    if (observed) {
        parts.add(observed)
    }
    Object status = field(r.doc, ['result', 'http', 'answer', 'status'])
    if (status != null) {
        String path = field(r.doc, ['result', 'http', 'path']) ?: 'the health path'
        String body = field(r.doc, ['result', 'http', 'answer', 'body']) ?: ''
        parts.add("GET ${path} answered ${status} ${body}".trim())
    }
    return parts ? parts.join('; ') : null
}

/** The message a failed run ends the build with, by exit code. */
String describe(Map r) {
    String m
    switch (r.exitCode as int) {
        case 1:
            m = "${r.what} failed: ${r.message}"
            break
        case 2:
            m = "${r.what}: bad input, nothing changed: ${r.message}"
            break
        case 3:
            m = "${r.what}: precondition not met, nothing changed: ${r.message}"
            break
        case 4:
            m = "${r.what}: busy, another operation holds the app, nothing changed: ${r.message}"
            break
        case 5:
            m = "${r.what}: cluster unreachable or not authorized: ${r.message}"
            break
        case 124:
            String seen = lastObserved(r)
            m = "${r.what} timed out: ${r.message}" + (seen && !r.message.contains(seen) ? "; last observed: ${seen}" : '')
            break
        case 127:
            m = "${r.what}: command not found: put the Switchyard binaries on the agent's PATH"
            break
        case 130:
        case 143:
            m = "${r.what} was interrupted; its lease is released"
            break
        default:
            m = "${r.what} exited ${r.exitCode}: ${r.message}"
    }
    if (r.hint) {
        m += " (hint: ${r.hint})"
    }
    return m
}

/** Continues on exit 0; otherwise ends the step with error(describe(r)). */
void check(Map r) {
    if (r.exitCode != 0) {
        error(describe(r))
    }
}

/**
 * Sends a notification when the step was given notify: [provider:, credentialsId:]
 * (extra keys such as required: pass through to deployNotify). Final
 * statuses are remembered in env.SWITCHYARD_NOTIFIED, so a pipeline's own
 * post { failure } can tell that the release already announced its outcome.
 */
void announce(Map args, String status, String message, String change = null) {
    if (!(args.notify instanceof Map)) {
        return
    }
    Map n = [:]
    n.putAll(args.notify)
    n.status = status
    n.message = message
    n.app = args.app
    if (args.namespace) {
        n.namespace = args.namespace
    }
    if (change) {
        n.change = change
    }
    deployNotify(n)
    if (status != 'started') {
        env.SWITCHYARD_NOTIFIED = status
    }
}

/**
 * The analysis flags of a step from its arguments: `file` (an analysis file in
 * the workspace, versioned with the app) as `flag` (--analysis or
 * --post-analysis), then the step's `analysisArgs: [KEY: VALUE]` and where
 * Prometheus is, from `prometheus:`, either a URL string or a map
 * [url: URL | service: 'NAMESPACE/NAME:PORT', credentialsId: ID (secret text:
 * a bearer token), ca: 'ca.pem']. [] without a file. The token never reaches a
 * command line: withPrometheus binds it to SWITCHYARD_PROMETHEUS_TOKEN.
 */
List analysisArgs(Map args, Object file, String flag = '--analysis', boolean withPrometheusFlags = true) {
    if (!file) {
        return []
    }
    List a = [flag, file.toString()]
    if (!withPrometheusFlags) {
        return a
    }
    if (args.analysisArgs instanceof Map) {
        for (e in args.analysisArgs) {
            a.addAll(['--arg', "${e.key}=${e.value}".toString()])
        }
    }
    Object p = args.prometheus
    if (p instanceof Map) {
        if (p.url) {
            a.addAll(['--prometheus', p.url.toString()])
        }
        if (p.service) {
            a.addAll(['--prometheus-service', p.service.toString()])
        }
        if (p.credentialsId) {
            a.addAll(['--prometheus-token-env', 'SWITCHYARD_PROMETHEUS_TOKEN'])
        }
        if (p.ca) {
            a.addAll(['--prometheus-ca', p.ca.toString()])
        }
    } else if (p) {
        a.addAll(['--prometheus', p.toString()])
    }
    return a
}

/** Runs `body` with the Prometheus token of `prometheus: [credentialsId: ...]` bound, if any. */
Object withPrometheus(Map args, Closure body) {
    Object p = args.prometheus
    if (p instanceof Map && p.credentialsId) {
        Object r = null
        withCredentials([string(credentialsId: p.credentialsId.toString(), variable: 'SWITCHYARD_PROMETHEUS_TOKEN')]) {
            r = body()
        }
        return r
    }
    return body()
}
