// canaryDeploy: release an image to a canary app with Switchyard.
//
//   canaryDeploy(app: 'shop', image: "registry.example.com/shop:${env.BUILD_NUMBER}",
//                steps: [10, 30, 100], pause: '5m', healthPath: '/healthz', promote: true,
//                analysis: 'deploy/analysis.yaml', prometheus: [service: 'monitoring/prometheus:9090'],
//                notify: [provider: 'discord', credentialsId: 'discord-webhook'])
//
// 1. notify started
// 2. kubectl-canary deploy APP --image IMAGE --wait --timeout T: the image on
//    APP-canary (never the stable Deployment), rolled out; it gets no traffic yet
// 3. deploy-weight --app APP --steps 10,30,100 --pause P [--http PATH] [--promote]:
//    each weight held for the pause while the canary stays healthy and PATH answers
//    200 through the canary Service, and with `analysis:` the analysis file's
//    metrics measured during every pause (Prometheus from `prometheus:`); any
//    failure sets the weight back to 0 (exit 1)
// 4. notify success; on failure notify rolled-back (the ramp failed: the weight is
//    back to 0) or failure, optionally `kubectl-canary abort APP` (abortOnFailure:
//    true: weight 0 and the canary scaled to 0), and error(...).
//
// Arguments: app, image, pause (required); steps (default [10, 30, 100]), healthPath,
// promote (default false), timeout (default '10m'), abortOnFailure (default false),
// analysis (a file in the workspace), analysisArgs ([KEY: VALUE]), prometheus (a URL,
// or [url: | service: 'NS/NAME:PORT', credentialsId: (secret text token), ca:]),
// notify, namespace, kubeconfig, context, busyRetries (default 2), busyWait (seconds, 30).
// Returns [app, image, steps, promoted].

def call(Map args = [:]) {
    def sy = switchyardStep
    sy.require(args, 'canaryDeploy', ['app', 'image', 'pause'])
    String app = args.app.toString()
    String image = args.image.toString()
    String timeout = (args.timeout ?: '10m').toString()
    String steps = weights(args.steps == null ? [10, 30, 100] : args.steps)
    boolean promote = args.promote as boolean
    List kube = sy.kubeArgs(args)
    Map common = [tag: app, busyRetries: args.busyRetries, busyWait: args.busyWait]
    boolean announced = false
    boolean ramped = false
    try {
        sy.announce(args, 'started', "${app}: canary ${image}, weights ${steps}" + (promote ? ', then promote' : ''))

        List deployArgs = ['deploy', app, '--image', image, '--wait', '--timeout', timeout, '-o', 'json']
        deployArgs.addAll(kube)
        sy.check(sy.run(common + [bin: 'kubectl-canary', args: deployArgs, resultFile: false,
                                  what: "canary deploy of ${image} to ${app}"]))

        List rampArgs = ['--app', app, '--steps', steps, '--pause', args.pause.toString(), '--timeout', timeout]
        if (args.healthPath) {
            rampArgs.addAll(['--http', args.healthPath.toString()])
        }
        if (promote) {
            rampArgs.add('--promote')
        }
        rampArgs.addAll(sy.analysisArgs(args, args.analysis))
        rampArgs.addAll(kube)
        ramped = true
        Map ramp = sy.withPrometheus(args) {
            sy.run(common + [bin: 'deploy-weight', args: rampArgs, what: "canary ramp of ${app}"])
        }
        if (ramp.exitCode == 1) {
            // deploy-weight has already set the weight back to 0.
            announced = true
            if (args.abortOnFailure) {
                try {
                    abort(app, kube, common)
                    // The canary pods the step's hint points at are gone now.
                    ramp.hint = null
                    ramp.message = "${ramp.message}; canary aborted (scaled to 0)"
                } catch (abortError) {
                    echo("switchyard: kubectl-canary abort failed: ${abortError.message}")
                }
            }
            sy.announce(args, 'rolled-back', "${app}: canary ${image} rolled back to weight 0: ${ramp.message}", 'canary → 0%')
            error(sy.describe(ramp))
        }
        sy.check(ramp)
        String done = "${app}: ${image} ramped through ${steps.replace(',', '% → ')}%" + (promote ? ' and promoted to stable' : '')
        echo("switchyard: ${done}")
        announced = true
        sy.announce(args, 'success', done, "canary ${steps.replace(',', '% → ')}%" + (promote ? ' → promoted' : ''))
        return [app: app, image: image, steps: steps, promoted: promote]
    } catch (e) {
        if (!announced) {
            if (ramped && args.abortOnFailure) {
                try {
                    abort(app, kube, common)
                } catch (abortError) {
                    echo("switchyard: kubectl-canary abort failed too: ${abortError.message}")
                }
            }
            try {
                sy.announce(args, 'failure', "${app}: canary ${image} failed: ${e.message ?: e.toString()}")
            } catch (notifyError) {
                echo("switchyard: the failure notification failed too: ${notifyError.message}")
            }
        }
        throw e
    }
}

/** [10, 30, 100] or '10,30,100' → '10,30,100' (deploy-weight checks the values). */
String weights(Object steps) {
    if (steps instanceof List) {
        List out = []
        for (s in steps) {
            out.add(s.toString().trim())
        }
        return out.join(',')
    }
    return steps.toString().replaceAll('\\s', '')
}

/** kubectl-canary abort: weight 0 at once, then the canary scaled to 0. */
void abort(String app, List kube, Map common) {
    def sy = switchyardStep
    List abortArgs = ['abort', app, '-o', 'json']
    abortArgs.addAll(kube)
    sy.check(sy.run(common + [bin: 'kubectl-canary', args: abortArgs, resultFile: false,
                              what: "canary abort of ${app}"]))
}
