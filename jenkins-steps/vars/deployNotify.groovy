// deployNotify: a release notification to Discord, Slack, Teams or any webhook.
//
//   deployNotify(provider: 'discord', credentialsId: 'discord-webhook',
//                status: 'success', message: 'web 1.2 is live', app: 'web')
//
// The webhook URL is a Jenkins "secret text" credential. It is bound to the
// environment variable SWITCHYARD_WEBHOOK for the one deploy-notify call and
// only the variable's *name* is on the command line, so the URL is never in
// the log, the process list or the result document.
//
// Arguments: provider (discord|slack|teams|webhook), credentialsId, status
// (started|success|failure|rolled-back), message (required); app, namespace,
// change ("blue → green", "canary 10,30,100"); required (default false).
//
// A notification never fails a release unless required: true.
//   - delivery failed (the service refused, timed out): deploy-notify exits 0 and
//     says so; the log shows it, the build goes on
//   - the notification cannot be sent as configured (unknown credentials ID, bad
//     provider or status, deploy-notify not on PATH): the build is marked
//     UNSTABLE, so the broken configuration is seen without undoing the release
//   - required: true: any of these ends the build with error(...)
// Returns [sent, exitCode, summary].

def call(Map args = [:]) {
    def sy = switchyardStep
    sy.require(args, 'deployNotify', ['provider', 'credentialsId', 'status', 'message'])
    boolean required = args.required as boolean
    String variable = 'SWITCHYARD_WEBHOOK'
    List words = ['--provider', args.provider.toString(), '--webhook-url-env', variable,
                  '--status', args.status.toString(), '--message', args.message.toString()]
    if (args.app) {
        words.addAll(['--app', args.app.toString()])
    }
    if (args.namespace) {
        words.addAll(['--namespace', args.namespace.toString()])
    }
    if (args.change) {
        words.addAll(['--change', args.change.toString()])
    }
    if (required) {
        words.add('--required')
    }
    String what = "${args.status} notification to ${args.provider}"
    Map r = null
    try {
        withCredentials([string(credentialsId: args.credentialsId.toString(), variable: variable)]) {
            r = sy.run(bin: 'deploy-notify', args: words, tag: (args.app ?: 'build').toString(),
                       what: what, busyRetries: 0)
        }
    } catch (e) {
        // The credential is missing or of the wrong kind (withCredentials throws).
        String m = "${what} not sent: ${e.message}"
        if (required) {
            error(m)
        }
        unstable(m)
        return [sent: false, exitCode: null, summary: m]
    }
    if (r.exitCode != 0) {
        if (required) {
            sy.check(r)
        }
        unstable("${what} not sent: ${sy.describe(r)}")
        return [sent: false, exitCode: r.exitCode, summary: r.message]
    }
    Object delivered = sy.field(r.doc, ['result', 'delivered'])
    boolean sent = delivered == null ? true : (delivered as boolean)
    if (!sent) {
        echo("switchyard: ${what} was not delivered: ${r.summary ?: r.message}")
    }
    return [sent: sent, exitCode: 0, summary: r.summary]
}
