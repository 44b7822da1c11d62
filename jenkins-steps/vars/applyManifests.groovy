// applyManifests: apply a directory of Kubernetes manifests with Switchyard,
// follow every workload it applied, and prune what the files no longer have.
//
//   applyManifests(files: ['k8s/'], images: [web: "registry.example.com/web:${env.BUILD_NUMBER}"],
//                  wait: true, prune: true, timeout: '10m',
//                  notify: [provider: 'discord', credentialsId: 'discord-webhook'])
//
// 1. notify started
// 2. deploy-apply -f FILE... [--image CONTAINER=IMAGE]... [--wait] [--prune --apply-set SET]
//    --timeout T: every file validated before anything is sent (a bad file: nothing
//    applied), objects applied in dependency order by server-side apply, every
//    workload followed (fails fast naming object, pod and reason), then the prune
//    (only after every wait passed)
// 3. notify success; on failure notify failure and error(...). A field another
//    manager owns (exit 4) is a conflict, not a busy app: it is not retried.
//
// Arguments: files (required: a path or a list of them, files or directories in the
// workspace); images ([CONTAINER: IMAGE], set in the files' pod templates); wait
// (default true); prune (default false); applySet (default: the job's name, e.g.
// shop-rolling for shop/rolling; the label switchyard.dev/apply-set that prune
// selects by); timeout (default '10m'); recursive (default false); selector;
// dryRun ('server' or 'client': nothing changes, the diff is in the log);
// forceConflicts (default false); fieldManager; app (names the release in
// notifications, default: the apply set); notify, namespace, kubeconfig, context.
// Returns [objects, created, configured, unchanged, pruned, waits, summary].

def call(Map args = [:]) {
    def sy = switchyardStep
    sy.require(args, 'applyManifests', ['files'])
    List files = args.files instanceof List ? args.files : [args.files]
    boolean wait = args.wait == null ? true : (args.wait as boolean)
    boolean prune = args.prune as boolean
    String timeout = (args.timeout ?: '10m').toString()
    String set = args.applySet ? args.applySet.toString() : applySetOf(env.JOB_NAME)
    String app = (args.app ?: set ?: 'manifests').toString()
    String what = "apply of ${files.join(', ')}"
    Map notifyArgs = [:]
    notifyArgs.putAll(args)
    notifyArgs.app = app

    List words = []
    for (f in files) {
        words.addAll(['-f', f.toString()])
    }
    if (args.recursive) {
        words.add('-R')
    }
    if (args.images instanceof Map) {
        for (e in args.images) {
            words.addAll(['--image', "${e.key}=${e.value}".toString()])
        }
    }
    if (wait) {
        words.add('--wait')
    }
    if (set) {
        words.addAll(['--apply-set', set])
    }
    if (prune) {
        if (!set) {
            error('applyManifests: prune needs applySet (or a JOB_NAME to name the set after)')
        }
        words.add('--prune')
    }
    if (args.selector) {
        words.addAll(['--selector', args.selector.toString()])
    }
    if (args.dryRun) {
        words.add("--dry-run=${args.dryRun}".toString())
    }
    if (args.forceConflicts) {
        words.add('--force-conflicts')
    }
    if (args.fieldManager) {
        words.addAll(['--field-manager', args.fieldManager.toString()])
    }
    words.addAll(['--timeout', timeout])
    words.addAll(sy.kubeArgs(args))

    boolean announced = false
    try {
        sy.announce(notifyArgs, 'started', "${app}: applying ${files.join(', ')}" + imagesPart(args.images))
        Map r = sy.run(bin: 'deploy-apply', args: words, tag: app, what: what, busyRetries: 0)
        if (r.exitCode == 4) {
            error("${what}: conflict, a field is owned by another manager: ${r.message}" + (r.hint ? " (hint: ${r.hint})" : ''))
        }
        sy.check(r)
        Map result = summarize(r.doc)
        result.summary = r.summary
        echo("switchyard: ${app}: ${r.summary}")
        announced = true
        sy.announce(notifyArgs, 'success', "${app}: ${r.summary}")
        return result
    } catch (e) {
        if (!announced) {
            try {
                sy.announce(notifyArgs, 'failure', "${app}: ${what} failed: ${e.message ?: e.toString()}")
            } catch (notifyError) {
                echo("switchyard: the failure notification failed too: ${notifyError.message}")
            }
        }
        throw e
    }
}

/** shop/rolling → shop-rolling: a job's name as a label value (at most 63, alphanumeric ends). */
String applySetOf(Object job) {
    if (!job) {
        return null
    }
    String s = job.toString().replaceAll('[^A-Za-z0-9_.-]', '-')
    if (s.length() > 63) {
        s = s.substring(s.length() - 63)
    }
    s = s.replaceAll('^[^A-Za-z0-9]+', '').replaceAll('[^A-Za-z0-9]+$', '')
    return s ?: null
}

/** ' (web=registry/web:42)' for the started notification. */
String imagesPart(Object images) {
    if (!(images instanceof Map) || images.isEmpty()) {
        return ''
    }
    List parts = []
    for (e in images) {
        parts.add("${e.key}=${e.value}".toString())
    }
    return " (${parts.join(', ')})"
}

/** The counts of a deploy-apply result document. */
Map summarize(Object doc) {
    def sy = switchyardStep
    Map m = [objects: 0, created: 0, configured: 0, unchanged: 0, pruned: 0, waits: 0]
    Object objects = sy.field(doc, ['result', 'objects'])
    if (objects instanceof List) {
        m.objects = objects.size()
        for (o in objects) {
            String action = sy.field(o, ['action'])
            if (m.containsKey(action)) {
                m[action] = m[action] + 1
            }
        }
    }
    Object pruned = sy.field(doc, ['result', 'pruned'])
    m.pruned = pruned instanceof List ? pruned.size() : 0
    Object waits = sy.field(doc, ['result', 'waits'])
    m.waits = waits instanceof List ? waits.size() : 0
    return m
}
