// blueGreenDeploy: release an image to a blue/green app with Switchyard.
//
//   blueGreenDeploy(app: 'web', image: "registry.example.com/web:${env.BUILD_NUMBER}",
//                   healthPath: '/actuator/health', timeout: '10m',
//                   scaleDownAfter: '15m',
//                   analysis: 'deploy/pre.yaml', postAnalysis: 'deploy/post.yaml',
//                   prometheus: [service: 'monitoring/prometheus:9090'],
//                   notify: [provider: 'discord', credentialsId: 'discord-webhook'])
//
// 1. notify started
// 2. kubectl-bluegreen deploy APP --image IMAGE --wait --timeout T: the image on the
//    idle color, rolled out (fails fast naming pod and reason)
// 3. deploy-health-wait --app APP --color IDLE [--http PATH]: healthy, and the path
//    answers 200 through the preview Service
// 4. deploy-switch --app APP [--http PATH] --rollback-on-failure [--scale-down-after D]
//    [--analysis F] [--post-analysis F]: `analysis:` judged against the idle color
//    before the switch (a failure: not switched), `postAnalysis:` after it (a
//    failure switches back); the switch checked after; a failed check switches back
// 5. notify success; on failure notify failure (rolled-back when the switch was
//    undone) and error(...). Exit codes: see switchyardStep.groovy / README.md.
//
// Arguments: app, image (required); healthPath, timeout (default '10m': the rollout
// and the whole health wait), healthTimeout (default: timeout), checkTimeout
// (post-switch check, default the step's 30s), scaleDownAfter, reason, analysis,
// postAnalysis (files in the workspace), analysisArgs ([KEY: VALUE]), prometheus (a URL,
// or [url: | service: 'NS/NAME:PORT', credentialsId: (secret text token), ca:]), notify,
// namespace, kubeconfig, context, busyRetries (default 2), busyWait (seconds, 30).
// Returns [app, image, from, to, idle, switched, rolledBack].

def call(Map args = [:]) {
    def sy = switchyardStep
    sy.require(args, 'blueGreenDeploy', ['app', 'image'])
    String app = args.app.toString()
    String image = args.image.toString()
    String timeout = (args.timeout ?: '10m').toString()
    String healthTimeout = (args.healthTimeout ?: timeout).toString()
    String healthPath = args.healthPath ? args.healthPath.toString() : null
    List kube = sy.kubeArgs(args)
    Map common = [tag: app, busyRetries: args.busyRetries, busyWait: args.busyWait]
    Map state = [app: app, image: image, from: null, to: null, idle: null, switched: false, rolledBack: false]
    boolean announced = false
    try {
        sy.announce(args, 'started', "${app}: deploying ${image} (blue/green)")

        List deployArgs = ['deploy', app, '--image', image, '--wait', '--timeout', timeout, '-o', 'json']
        deployArgs.addAll(kube)
        Map deployed = sy.run(common + [bin: 'kubectl-bluegreen', args: deployArgs, resultFile: false,
                                        what: "deploy of ${image} to ${app}"])
        sy.check(deployed)
        String idle = sy.field(deployed.doc, ['color'])
        if (!idle) {
            idle = idleColor(app, kube, common)
        }
        state.idle = idle
        echo("switchyard: ${image} is on ${app}-${idle} (the idle color)")

        List waitArgs = ['--app', app, '--color', idle, '--timeout', healthTimeout]
        if (healthPath) {
            waitArgs.addAll(['--http', healthPath])
        }
        waitArgs.addAll(kube)
        sy.check(sy.run(common + [bin: 'deploy-health-wait', args: waitArgs,
                                  what: "health wait of ${app}-${idle}"]))

        List switchArgs = ['--app', app, '--to', idle, '--rollback-on-failure', '--timeout', timeout,
                           '--reason', (args.reason ?: "release ${image}").toString()]
        if (healthPath) {
            switchArgs.addAll(['--http', healthPath])
        }
        if (args.checkTimeout) {
            switchArgs.addAll(['--check-timeout', args.checkTimeout.toString()])
        }
        if (args.scaleDownAfter) {
            switchArgs.addAll(['--scale-down-after', args.scaleDownAfter.toString()])
        }
        // The --arg and Prometheus flags once, with whichever analysis comes first.
        switchArgs.addAll(sy.analysisArgs(args, args.analysis))
        switchArgs.addAll(sy.analysisArgs(args, args.postAnalysis, '--post-analysis', !args.analysis))
        switchArgs.addAll(kube)
        Map switched = sy.withPrometheus(args) {
            sy.run(common + [bin: 'deploy-switch', args: switchArgs, what: "switch of ${app} to ${idle}"])
        }
        if (switched.exitCode == 1 && sy.field(switched.doc, ['result', 'rolledBack']) == true) {
            state.rolledBack = true
            String back = sy.field(switched.doc, ['result', 'switch', 'from']) ?: sy.field(switched.doc, ['result', 'to'])
            String message = "${app}: ${image} rolled back" + (back ? " to ${back}" : '') + ": ${switched.message}"
            announced = true
            sy.announce(args, 'rolled-back', message, back ? "${idle} → ${back}" : null)
            error(sy.describe(switched))
        }
        sy.check(switched)
        state.switched = true
        state.from = sy.field(switched.doc, ['result', 'switch', 'from'])
        state.to = sy.field(switched.doc, ['result', 'switch', 'to']) ?: idle
        String live = "${app}: ${image} is live on ${state.to}" + (state.from ? " (was ${state.from})" : '')
        if (sy.field(switched.doc, ['result', 'scaledDown']) != null) {
            live += "; ${state.from ?: 'the old color'} scaled down"
        }
        echo("switchyard: ${live}")
        announced = true
        sy.announce(args, 'success', live, state.from ? "${state.from} → ${state.to}" : null)
        return state
    } catch (e) {
        if (!announced) {
            try {
                sy.announce(args, 'failure', "${app}: release of ${image} failed: ${e.message ?: e.toString()}")
            } catch (notifyError) {
                echo("switchyard: the failure notification failed too: ${notifyError.message}")
            }
        }
        throw e
    }
}

/** The idle color from `kubectl-bluegreen status APP -o json`, when deploy did not say. */
String idleColor(String app, List kube, Map common) {
    def sy = switchyardStep
    List statusArgs = ['status', app, '-o', 'json']
    statusArgs.addAll(kube)
    Map status = sy.run(common + [bin: 'kubectl-bluegreen', args: statusArgs, resultFile: false,
                                  what: "status of ${app}"])
    sy.check(status)
    Object apps = sy.field(status.doc, ['apps'])
    String active = apps ? sy.field(apps[0], ['active']) : null
    if (!active) {
        error("blueGreenDeploy: kubectl-bluegreen status ${app} named no active color")
    }
    return active == 'blue' ? 'green' : 'blue'
}
