// rollingDeploy: roll a new image out to a Deployment (or a StatefulSet or
// DaemonSet) with Switchyard, and put the previous revision back if it fails.
//
//   rollingDeploy(deployment: 'api', image: "registry.example.com/api:${env.BUILD_NUMBER}",
//                 undoOnFailure: true, healthPath: '/actuator/health', timeout: '10m',
//                 notify: [provider: 'discord', credentialsId: 'discord-webhook'])
//
// 1. notify started
// 2. deploy-rollout --deployment NAME --image IMAGE --timeout T [--undo-on-failure]
//    [--http PATH] [--analysis F]: the image set as a guarded write, the rollout
//    followed (fails fast naming pod and reason), then PATH must answer 200
//    through the Service NAME (or `service:`) and `analysis:` must pass; on a
//    failure with undoOnFailure the previous revision is restored, as
//    `kubectl rollout undo` does, and followed too
// 3. notify success; on failure notify rolled-back (the previous revision is
//    serving again) or failure, and error(...). Exit codes: see switchyardStep.groovy.
//
// Arguments: one of deployment, statefulset, daemonset (the name); image
// ('IMAGE' or 'CONTAINER=IMAGE'), or images ([CONTAINER: IMAGE, ...]), or
// restart: true; undoOnFailure (default false), healthPath, port, service,
// timeout (default '10m': the rollout and its checks; an undo gets as long
// again), analysis (a file in the workspace), analysisArgs ([KEY: VALUE]),
// prometheus (a URL, or [url: | service: 'NS/NAME:PORT', credentialsId:, ca:]),
// notify, namespace, kubeconfig, context, busyRetries (default 2), busyWait (30).
// Returns [kind, name, image, result, revision, rolledBack, rolledBackTo].

def call(Map args = [:]) {
    def sy = switchyardStep
    List kinds = []
    for (k in ['deployment', 'statefulset', 'daemonset']) {
        if (args[k]) {
            kinds.add(k)
        }
    }
    if (kinds.size() != 1) {
        error("rollingDeploy: name exactly one of deployment, statefulset, daemonset")
    }
    String kind = kinds[0]
    String name = args[kind].toString()
    List change = changeArgs(args)
    String timeout = (args.timeout ?: '10m').toString()
    List shown = []
    for (w in change) {
        if (w != '--image') {
            shown.add(w)
        }
    }
    String image = args.restart ? 'a restart' : shown.join(', ')
    List kube = sy.kubeArgs(args)
    // Notifications name the workload as the app.
    Map n = [:]
    n.putAll(args)
    n.app = name
    Map common = [tag: name, busyRetries: args.busyRetries, busyWait: args.busyWait]
    Map state = [kind: kind, name: name, image: image, result: null, revision: null, rolledBack: false, rolledBackTo: null]
    boolean announced = false
    try {
        sy.announce(n, 'started', "${name}: rolling out ${image}" + (args.undoOnFailure ? ' (undo on failure)' : ''))

        List rollArgs = ["--${kind}".toString(), name]
        rollArgs.addAll(change)
        rollArgs.addAll(['--timeout', timeout])
        if (args.undoOnFailure) {
            rollArgs.add('--undo-on-failure')
        }
        if (args.healthPath) {
            rollArgs.addAll(['--http', args.healthPath.toString()])
        }
        if (args.port) {
            rollArgs.addAll(['--port', args.port.toString()])
        }
        if (args.service) {
            rollArgs.addAll(['--service', args.service.toString()])
        }
        rollArgs.addAll(sy.analysisArgs(args, args.analysis))
        rollArgs.addAll(kube)
        Map rolled = sy.withPrometheus(args) {
            sy.run(common + [bin: 'deploy-rollout', args: rollArgs, what: "rollout of ${image} to ${kind} ${name}"])
        }
        state.result = sy.field(rolled.doc, ['result', 'result'])
        state.revision = sy.field(rolled.doc, ['result', 'revisionAfter'])
        if (rolled.exitCode == 1 && state.result == 'rolledBack') {
            state.rolledBack = true
            state.rolledBackTo = sy.field(rolled.doc, ['result', 'rolledBackTo'])
            announced = true
            sy.announce(n, 'rolled-back', "${name}: ${image} rolled back to revision ${state.rolledBackTo}: ${rolled.message}",
                        "revision ${state.revision ?: '?'} → ${state.rolledBackTo}")
            error(sy.describe(rolled))
        }
        sy.check(rolled)
        String done = state.result == 'unchanged' ? "${name}: ${image} was already rolled out" :
            "${name}: ${image} rolled out" + (state.revision ? " (revision ${state.revision})" : '')
        echo("switchyard: ${done}")
        announced = true
        sy.announce(n, 'success', done, state.revision ? "revision ${state.revision}" : null)
        return state
    } catch (e) {
        if (!announced) {
            try {
                sy.announce(n, 'failure', "${name}: rollout of ${image} failed: ${e.message ?: e.toString()}")
            } catch (notifyError) {
                echo("switchyard: the failure notification failed too: ${notifyError.message}")
            }
        }
        throw e
    }
}

/** --image IMAGE..., or --restart, from image:, images: or restart:. */
List changeArgs(Map args) {
    List a = []
    if (args.restart) {
        if (args.image || args.images) {
            error('rollingDeploy: restart: true takes no image')
        }
        a.add('--restart')
        return a
    }
    if (args.images instanceof Map) {
        for (e in args.images) {
            a.addAll(['--image', "${e.key}=${e.value}".toString()])
        }
    } else if (args.image) {
        a.addAll(['--image', args.image.toString()])
    }
    if (!a) {
        error('rollingDeploy: missing argument(s) image (or images:, or restart: true)')
    }
    return a
}
