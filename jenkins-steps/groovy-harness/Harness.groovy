// A small stand-in for Jenkins that runs a declarative Jenkinsfile and the
// Switchyard shared library (vars/*.groovy) with plain Groovy 2.4, for tests.
//
// Usage (through ./run, which finds a JVM and puts the fake docker on PATH):
//   run [--vars DIR] [--workspace DIR] [--credentials FILE.json] [--param NAME=VALUE]... JENKINSFILE
//
// What it provides is what the example pipelines and the library use; see
// README.md next to this file. Anything else fails loudly ("No such DSL
// method"), so a test never passes by silently skipping a step.
//
// Exit code: 0 SUCCESS, 1 FAILURE, 2 UNSTABLE, 3 ABORTED, 64 bad usage.

import groovy.json.JsonSlurper
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.runtime.StackTraceUtils

/** What `error` throws: Jenkins' hudson.AbortException (a message, no stack trace). */
class AbortException extends RuntimeException {
    AbortException(String message) { super(message) }
}

/**
 * What readJSON puts where the document has null, as net.sf.json's JSONNull
 * does in Jenkins: not Groovy null (so `x == null` is false and `x` is truthy),
 * equal to null through equals(), "null" as text. A library that reads
 * `doc.error?.message` breaks here exactly as it would under Jenkins.
 */
class JsonNull {
    static final JsonNull INSTANCE = new JsonNull()

    private JsonNull() {}

    boolean equals(Object o) { o == null || o.is(this) }

    int hashCode() { 0 }

    String toString() { 'null' }

    static Object wrap(Object v) {
        if (v == null) return INSTANCE
        if (v instanceof Map) {
            Map out = new LinkedHashMap()
            ((Map) v).each { k, x -> out.put(k, wrap(x)) }
            return out
        }
        if (v instanceof List) {
            List out = []
            ((List) v).each { x -> out.add(wrap(x)) }
            return out
        }
        return v
    }
}

/** One run of a pipeline: its environment, parameters, credentials, result. */
class Build {
    static Build current

    static final List<String> ORDER = ['SUCCESS', 'UNSTABLE', 'FAILURE', 'NOT_BUILT', 'ABORTED']

    Map<String, String> env = new LinkedHashMap<String, String>()
    Map<String, Object> params = new LinkedHashMap<String, Object>()
    Map<String, String> paramOverrides = new LinkedHashMap<String, String>()
    Map<String, Object> credentials = [:]
    Map<String, Object> vars = new LinkedHashMap<String, Object>()
    String result = null
    File workspace
    File cwd
    File tmp
    int scripts = 0
    EnvGlobal envGlobal = new EnvGlobal()
    CurrentBuild currentBuild = new CurrentBuild()
    PrintStream out = System.out

    void worsen(String r) {
        if (!ORDER.contains(r)) throw new IllegalArgumentException("not a build result: ${r}")
        if (result == null || ORDER.indexOf(r) > ORDER.indexOf(result)) result = r
    }

    String currentResult() { result ?: 'SUCCESS' }

    void log(Object s) {
        out.println(String.valueOf(s))
        out.flush()
    }

    File resolve(Object path) {
        File f = new File(String.valueOf(path))
        return f.isAbsolute() ? f : new File(cwd, String.valueOf(path))
    }
}

/** `env`: read and write the build's environment; unset names read as null. */
class EnvGlobal {
    Object getProperty(String name) { Build.current.env.get(name) }

    void setProperty(String name, Object value) {
        if (value == null) Build.current.env.remove(name)
        else Build.current.env.put(name, value.toString())
    }

    Map<String, String> getEnvironment() { new LinkedHashMap<String, String>(Build.current.env) }

    String toString() { 'env' }
}

/** `currentBuild`: result (null while nothing set it), currentResult, number. */
class CurrentBuild {
    String description
    String displayName

    String getResult() { Build.current.result }

    void setResult(String r) { Build.current.worsen(r) }

    String getCurrentResult() { Build.current.currentResult() }

    int getNumber() { Integer.parseInt(Build.current.env.get('BUILD_NUMBER') ?: '1') }

    String getDisplayName() { displayName ?: "#${getNumber()}" }

    String getAbsoluteUrl() { Build.current.env.get('BUILD_URL') }

    boolean resultIsBetterOrEqualTo(String r) {
        Build.ORDER.indexOf(getCurrentResult()) <= Build.ORDER.indexOf(r)
    }

    boolean resultIsWorseOrEqualTo(String r) {
        Build.ORDER.indexOf(getCurrentResult()) >= Build.ORDER.indexOf(r)
    }
}

/** What string(...) and usernamePassword(...) return for withCredentials. */
class CredentialBinding {
    String type
    Map args
}

/**
 * The base class of the Jenkinsfile and of every vars/*.groovy script: the
 * pipeline steps, `env`, `params`, `currentBuild`, and the library's global
 * variables (a call `blueGreenDeploy(...)` runs vars/blueGreenDeploy.groovy's
 * call method; `switchyardStep.q(...)` calls another of its methods).
 */
abstract class PipelineScript extends Script {
    EnvGlobal getEnv() { Build.current.envGlobal }

    Map getParams() { Collections.unmodifiableMap(Build.current.params) }

    CurrentBuild getCurrentBuild() { Build.current.currentBuild }

    def methodMissing(String name, Object args) {
        Object v = Build.current.vars.get(name)
        if (v != null) return v.invokeMethod('call', args)
        throw new MissingMethodException(name, this.getClass(), args as Object[])
    }

    def propertyMissing(String name) {
        Object v = Build.current.vars.get(name)
        if (v != null) return v
        throw new MissingPropertyException(name, this.getClass())
    }

    // -- declarative entry point -------------------------------------------

    void pipeline(Closure body) {
        new Declarative(this).run(body)
    }

    /** `library 'name'`: the harness has loaded vars/ already. */
    void library(Object ignored) {}

    // -- basic steps -------------------------------------------------------

    void echo(Object message) {
        Build.current.log(String.valueOf(message))
    }

    void error(Object message) {
        throw new AbortException(String.valueOf(message))
    }

    void unstable(Object arg) {
        String message = arg instanceof Map ? String.valueOf(((Map) arg).message) : String.valueOf(arg)
        Build.current.log("WARNING: ${message}")
        Build.current.worsen('UNSTABLE')
    }

    boolean isUnix() { true }

    Object script(Closure body) { body.call() }

    /** `sleep 5` and `sleep(time: 5, unit: 'SECONDS')`: seconds by default, as in Jenkins. */
    void sleep(Object arg) {
        long time
        String unit = 'SECONDS'
        if (arg instanceof Map) {
            time = ((Map) arg).time as long
            unit = (((Map) arg).unit ?: 'SECONDS').toString()
        } else {
            time = arg as long
        }
        Build.current.log("Sleeping for ${time} ${unit.toLowerCase()}")
        Thread.sleep(java.util.concurrent.TimeUnit.valueOf(unit).toMillis(time))
    }

    Object retry(Object count, Closure body) {
        int n = count instanceof Map ? (((Map) count).count as int) : (count as int)
        Throwable last = null
        for (int i = 0; i < n; i++) {
            try {
                return body.call()
            } catch (InterruptedException e) {
                throw e
            } catch (Throwable t) {
                last = t
                Build.current.log("ERROR: ${t.message}")
                if (i + 1 < n) Build.current.log('Retrying')
            }
        }
        throw last
    }

    /** Runs the body; the harness does not enforce the limit (tests bound the whole run). */
    Object timeout(Object args, Closure body) { body.call() }

    Object withEnv(List<String> entries, Closure body) {
        Map<String, String> saved = new LinkedHashMap<String, String>()
        for (String e : entries) {
            int eq = e.indexOf('=')
            if (eq < 0) throw new AbortException("withEnv: ${e} is not NAME=VALUE")
            String name = e.substring(0, eq)
            String value = e.substring(eq + 1)
            int plus = name.indexOf('+')
            if (plus > 0) {
                // PATH+ANYTHING=/dir prepends /dir to PATH, as Jenkins does.
                name = name.substring(0, plus)
                String old = Build.current.env.get(name)
                value = old ? "${value}:${old}".toString() : value
            }
            if (!saved.containsKey(name)) saved.put(name, Build.current.env.get(name))
            Build.current.env.put(name, value)
        }
        try {
            return body.call()
        } finally {
            restore(saved)
        }
    }

    Object dir(String path, Closure body) {
        File old = Build.current.cwd
        File d = Build.current.resolve(path)
        d.mkdirs()
        Build.current.cwd = d
        try {
            return body.call()
        } finally {
            Build.current.cwd = old
        }
    }

    // -- files -------------------------------------------------------------

    boolean fileExists(Object arg) {
        Object path = arg instanceof Map ? ((Map) arg).file : arg
        return Build.current.resolve(path).exists()
    }

    String readFile(Object arg) {
        Object path = arg instanceof Map ? ((Map) arg).file : arg
        File f = Build.current.resolve(path)
        if (!f.exists()) throw new AbortException("${f} does not exist")
        return f.getText('UTF-8')
    }

    void writeFile(Map args) {
        File f = Build.current.resolve(args.file)
        if (f.parentFile != null) f.parentFile.mkdirs()
        f.setText(String.valueOf(args.text), 'UTF-8')
    }

    /** readJSON(file: ...) or readJSON(text: ...), with nulls as JSONNull (see JsonNull). */
    Object readJSON(Map args) {
        String text
        if (args.containsKey('text')) {
            text = String.valueOf(args.text)
        } else if (args.file != null) {
            File f = Build.current.resolve(args.file)
            if (!f.exists()) throw new AbortException("readJSON: ${args.file} does not exist")
            text = f.getText('UTF-8')
        } else {
            throw new AbortException('readJSON: give file: or text:')
        }
        return JsonNull.wrap(new JsonSlurper().parseText(text))
    }

    // -- credentials -------------------------------------------------------

    CredentialBinding string(Map args) { new CredentialBinding(type: 'string', args: args) }

    CredentialBinding usernamePassword(Map args) { new CredentialBinding(type: 'usernamePassword', args: args) }

    /**
     * Binds credentials from the map the test passed (--credentials) to
     * environment variables for the body. Unlike Jenkins the harness does not
     * mask the values in the log: a test that asserts a secret never appears
     * in the log then sees a leak instead of "****".
     */
    Object withCredentials(List bindings, Closure body) {
        Map<String, String> bound = new LinkedHashMap<String, String>()
        for (Object o : bindings) {
            if (!(o instanceof CredentialBinding)) throw new AbortException("withCredentials: unsupported binding ${o}")
            CredentialBinding b = (CredentialBinding) o
            String id = String.valueOf(b.args.credentialsId)
            Object secret = Build.current.credentials.get(id)
            if (secret == null) {
                throw new AbortException("Could not find credentials entry with ID '${id}'")
            }
            if (b.type == 'string') {
                if (!(secret instanceof String)) throw new AbortException("Credentials '${id}' is not a secret text")
                bound.put(String.valueOf(b.args.variable), (String) secret)
            } else {
                if (!(secret instanceof Map)) throw new AbortException("Credentials '${id}' is not a username with password")
                bound.put(String.valueOf(b.args.usernameVariable), String.valueOf(((Map) secret).username))
                bound.put(String.valueOf(b.args.passwordVariable), String.valueOf(((Map) secret).password))
            }
        }
        Map<String, String> saved = new LinkedHashMap<String, String>()
        bound.each { k, v ->
            saved.put(k, Build.current.env.get(k))
            Build.current.env.put(k, v)
        }
        try {
            return body.call()
        } finally {
            restore(saved)
        }
    }

    protected static void restore(Map<String, String> saved) {
        saved.each { k, v ->
            if (v == null) Build.current.env.remove(k)
            else Build.current.env.put(k, v)
        }
    }

    // -- sh ----------------------------------------------------------------

    /**
     * Runs the script for real: written to a file, run by `/bin/sh -xe` (or
     * by its #! interpreter) in the workspace, with the build's environment,
     * output streamed to the log, as Jenkins' sh step does.
     */
    Object sh(Object arg) {
        Map args = arg instanceof Map ? (Map) arg : [script: String.valueOf(arg)]
        String script = String.valueOf(args.script)
        boolean returnStatus = args.returnStatus as boolean
        boolean returnStdout = args.returnStdout as boolean
        Build b = Build.current
        b.log(args.label ? "[Pipeline] sh (${args.label})" : '[Pipeline] sh')
        b.scripts++
        File file = new File(b.tmp, "script-${b.scripts}.sh")
        file.setText(script, 'UTF-8')
        List<String> cmd
        if (script.startsWith('#!')) {
            file.setExecutable(true)
            cmd = [file.path]
        } else {
            cmd = ['/bin/sh', '-xe', file.path]
        }
        ProcessBuilder pb = new ProcessBuilder(cmd)
        pb.directory(b.cwd)
        Map<String, String> penv = pb.environment()
        penv.clear()
        b.env.each { k, v -> if (v != null) penv.put(k, v) }
        pb.redirectInput(new File('/dev/null'))
        pb.redirectError(ProcessBuilder.Redirect.INHERIT)
        pb.redirectOutput(returnStdout ? ProcessBuilder.Redirect.PIPE : ProcessBuilder.Redirect.INHERIT)
        System.out.flush()
        System.err.flush()
        Process p = pb.start()
        String stdout = returnStdout ? p.inputStream.getText('UTF-8') : null
        int code = p.waitFor()
        if (code != 0 && !returnStatus) {
            throw new AbortException("script returned exit code ${code}")
        }
        if (returnStatus) return code
        if (returnStdout) return stdout
        return null
    }
}

/** Swallows everything: `options { timestamps() }` and the like. */
class Ignored {
    String what
    List<String> seen = []

    def methodMissing(String name, Object args) {
        seen << name
        return null
    }
}

class ParametersBuilder {
    List<Map> defs = []

    void string(Map a) { defs << [name: a.name, type: 'string', value: a.defaultValue ?: ''] }

    void text(Map a) { defs << [name: a.name, type: 'string', value: a.defaultValue ?: ''] }

    void password(Map a) { defs << [name: a.name, type: 'string', value: a.defaultValue ?: ''] }

    void booleanParam(Map a) { defs << [name: a.name, type: 'boolean', value: a.defaultValue as boolean] }

    void choice(Map a) {
        Object choices = a.choices
        List list = choices instanceof List ? (List) choices : String.valueOf(choices).readLines()
        defs << [name: a.name, type: 'choice', value: list ? list[0] : '', choices: list]
    }
}

/**
 * `environment { NAME = value }`: each assignment goes to the build's
 * environment at once, so a later entry may use an earlier one ("${APP}"),
 * as in Jenkins; reads fall back to the environment, then to env/params.
 */
class EnvironmentBuilder {
    List<String> assigned = []

    void setProperty(String name, Object value) {
        assigned << name
        Build.current.env.put(name, value == null ? null : value.toString())
    }

    Object getProperty(String name) {
        if (name == 'env') return Build.current.envGlobal
        if (name == 'params') return Collections.unmodifiableMap(Build.current.params)
        if (name == 'currentBuild') return Build.current.currentBuild
        if (name == 'assigned') return assigned
        if (Build.current.env.containsKey(name)) return Build.current.env.get(name)
        throw new MissingPropertyException(name, EnvironmentBuilder)
    }

    /** `NAME = credentials('id')` for a secret text. */
    String credentials(String id) {
        Object secret = Build.current.credentials.get(id)
        if (!(secret instanceof String)) throw new AbortException("Could not find secret text credentials '${id}'")
        return (String) secret
    }
}

class StageDef {
    String name
    Closure steps
    List<Closure> env = []
    Map<String, Closure> post = [:]
    Closure when
}

class StageBuilder {
    StageDef stage

    void agent(Object ignored) {}

    void options(Closure ignored) {}

    void steps(Closure c) { stage.steps = c }

    void environment(Closure c) { stage.env << c }

    void post(Closure c) { stage.post = PostBuilder.collect(c) }

    void when(Closure c) { stage.when = c }

    void stages(Closure c) { throw new AbortException("harness: nested stages in stage '${stage.name}' are not supported") }

    void parallel(Object c) { throw new AbortException("harness: parallel in stage '${stage.name}' is not supported") }

    String getAny() { 'any' }

    String getNone() { 'none' }
}

class StagesBuilder {
    List<StageDef> stages = []

    void stage(String name, Closure body) {
        StageDef s = new StageDef(name: name)
        Declarative.configure(body, new StageBuilder(stage: s))
        if (s.steps == null) throw new AbortException("stage '${name}' has no steps")
        stages << s
    }
}

class PostBuilder {
    static final List<String> CONDITIONS = [
        'always', 'changed', 'fixed', 'regression', 'aborted', 'failure', 'success', 'unstable',
        'unsuccessful', 'cleanup',
    ]

    Map<String, Closure> conditions = new LinkedHashMap<String, Closure>()

    def methodMissing(String name, Object args) {
        Object[] a = args as Object[]
        if (!CONDITIONS.contains(name) || a.length != 1 || !(a[0] instanceof Closure)) {
            throw new MissingMethodException(name, PostBuilder, a)
        }
        conditions.put(name, (Closure) a[0])
        return null
    }

    static Map<String, Closure> collect(Closure c) {
        PostBuilder b = new PostBuilder()
        Declarative.configure(c, b)
        return b.conditions
    }
}

/** `when { expression { ... } }`: the one condition the harness evaluates. */
class WhenBuilder {
    List<Closure> expressions = []

    void expression(Closure c) { expressions << c }

    void beforeAgent(Object ignored) {}
}

class PipelineDef {
    List<Closure> env = []
    List<StageDef> stages = []
    Map<String, Closure> post = [:]
    List<Map> parameters = []
    List<String> ignored = []

    void agent(Object ignored) {}

    String getAny() { 'any' }

    String getNone() { 'none' }

    void options(Closure c) { ignore('options', c) }

    void triggers(Closure c) { ignore('triggers', c) }

    void tools(Closure c) { ignore('tools', c) }

    void parameters(Closure c) {
        ParametersBuilder b = new ParametersBuilder()
        Declarative.configure(c, b)
        parameters.addAll(b.defs)
    }

    void environment(Closure c) { env << c }

    void stages(Closure c) {
        StagesBuilder b = new StagesBuilder()
        Declarative.configure(c, b)
        stages.addAll(b.stages)
    }

    void post(Closure c) { post = PostBuilder.collect(c) }

    private void ignore(String what, Closure c) {
        Ignored i = new Ignored(what: what)
        Declarative.configure(c, i)
        ignored.addAll(i.seen.collect { "${what} ${it}".toString() })
    }
}

/** Reads the declarative structure, then runs it with Jenkins' semantics. */
class Declarative {
    PipelineScript script

    Declarative(PipelineScript script) { this.script = script }

    static void configure(Closure c, Object delegate) {
        Closure x = (Closure) c.clone()
        x.resolveStrategy = Closure.DELEGATE_FIRST
        x.delegate = delegate
        x.call()
    }

    void run(Closure body) {
        Build b = Build.current
        PipelineDef p = new PipelineDef()
        configure(body, p)
        if (p.ignored) b.log("harness: not enforced: ${p.ignored.join(', ')}")
        for (Map d : p.parameters) {
            String name = String.valueOf(d.name)
            Object value = d.value
            if (b.paramOverrides.containsKey(name)) {
                String given = b.paramOverrides.get(name)
                value = d.type == 'boolean' ? Boolean.valueOf(given) : given
                if (d.type == 'choice' && !((List) d.choices).contains(given)) {
                    throw new AbortException("parameter ${name}: ${given} is not one of ${d.choices}")
                }
            }
            b.params.put(name, value)
            b.env.put(name, String.valueOf(value))
        }
        List<String> unknown = b.paramOverrides.keySet().findAll { k -> !p.parameters.any { it.name == k } } as List<String>
        if (unknown) throw new AbortException("--param ${unknown.join(', ')}: the pipeline declares no such parameter")

        b.log('[Pipeline] Start of Pipeline')
        boolean failed = false
        try {
            for (Closure c : p.env) evalEnvironment(c)
        } catch (Throwable t) {
            recordFailure(t)
            failed = true
        }
        for (StageDef s : p.stages) {
            if (failed) {
                b.log("[Pipeline] stage (${s.name}): Stage \"${s.name}\" skipped due to earlier failure(s)")
                continue
            }
            b.log("[Pipeline] { (${s.name})")
            Map<String, String> saved = new LinkedHashMap<String, String>(b.env)
            List<String> stageEnv = []
            boolean stageFailed = false
            try {
                for (Closure c : s.env) stageEnv.addAll(evalEnvironment(c))
                if (s.when != null && !whenHolds(s.when)) {
                    b.log("Stage \"${s.name}\" skipped due to when conditional")
                } else {
                    hydrate(s.steps).call()
                }
            } catch (Throwable t) {
                recordFailure(t)
                failed = true
                stageFailed = true
            }
            runPost("stage ${s.name}", s.post, stageFailed)
            for (String k : stageEnv) {
                if (saved.containsKey(k)) b.env.put(k, saved.get(k))
                else b.env.remove(k)
            }
            b.log('[Pipeline] }')
        }
        runPost('pipeline', p.post, false)
        b.log('[Pipeline] End of Pipeline')
    }

    private Closure hydrate(Closure c) {
        return c.rehydrate(script, script, script)
    }

    private List<String> evalEnvironment(Closure c) {
        EnvironmentBuilder e = new EnvironmentBuilder()
        Closure x = c.rehydrate(e, script, script)
        x.resolveStrategy = Closure.DELEGATE_FIRST
        x.call()
        return e.assigned
    }

    private boolean whenHolds(Closure c) {
        WhenBuilder w = new WhenBuilder()
        configure(c, w)
        if (!w.expressions) throw new AbortException('harness: only `when { expression { ... } }` is supported')
        return w.expressions.every { Closure e -> hydrate(e).call() as boolean }
    }

    /** Post conditions in Jenkins' order, each checked just before it runs. */
    private void runPost(String where, Map<String, Closure> post, boolean stageFailed) {
        Build b = Build.current
        for (String cond : PostBuilder.CONDITIONS) {
            Closure c = post.get(cond)
            if (c == null) continue
            String r = stageFailed ? 'FAILURE' : b.currentResult()
            boolean run
            switch (cond) {
                case 'always': case 'cleanup': run = true; break
                case 'success': run = r == 'SUCCESS'; break
                case 'failure': run = r == 'FAILURE'; break
                case 'unstable': run = r == 'UNSTABLE'; break
                case 'aborted': run = r == 'ABORTED'; break
                case 'unsuccessful': run = r != 'SUCCESS'; break
                default:
                    b.log("harness: post { ${cond} } needs a previous build; not run")
                    run = false
            }
            if (!run) continue
            b.log("[Pipeline] ${cond} (${where})")
            try {
                hydrate(c).call()
            } catch (Throwable t) {
                recordFailure(t)
            }
        }
    }

    private void recordFailure(Throwable t) {
        Build b = Build.current
        if (t instanceof InterruptedException) {
            b.log('Aborted')
            b.worsen('ABORTED')
        } else if (t instanceof AbortException) {
            b.log("ERROR: ${t.message}")
            b.worsen('FAILURE')
        } else {
            describe(t)
            b.worsen('FAILURE')
        }
    }

    static void describe(Throwable t) {
        Build b = Build.current
        if (t instanceof MissingMethodException) {
            MissingMethodException m = (MissingMethodException) t
            b.log("java.lang.NoSuchMethodError: No such DSL method '${m.method}' found among steps " +
                "(harness: ${m.message})")
        } else {
            b.log("ERROR: ${t}")
        }
        Throwable s = StackTraceUtils.deepSanitize(t)
        s.stackTrace.findAll { it.fileName && !it.fileName.endsWith('.java') }.take(8).each {
            b.log("\tat ${it}")
        }
    }
}

// -- main ------------------------------------------------------------------

def usage = { String why ->
    System.err.println("harness: ${why}")
    System.err.println('usage: run [--vars DIR] [--workspace DIR] [--credentials FILE.json] [--param NAME=VALUE]... JENKINSFILE')
    System.exit(64)
}

// ./run exports HARNESS_HOME (this directory); the library is its sibling vars/.
String home = System.getenv('HARNESS_HOME') ?: '.'
File varsDir = new File(new File(home).absoluteFile.parentFile, 'vars')
File workspace = new File(System.getProperty('user.dir'))
File credentialsFile = null
File jenkinsfile = null
Map<String, String> overrides = new LinkedHashMap<String, String>()
List<String> argv = (args as List<String>)
for (int i = 0; i < argv.size(); i++) {
    String a = argv[i]
    String next = i + 1 < argv.size() ? argv[i + 1] : null
    switch (a) {
        case '--vars': if (next == null) usage('--vars needs a directory'); varsDir = new File(next); i++; break
        case '--workspace': if (next == null) usage('--workspace needs a directory'); workspace = new File(next); i++; break
        case '--credentials': if (next == null) usage('--credentials needs a file'); credentialsFile = new File(next); i++; break
        case '--param':
            if (next == null || !next.contains('=')) usage('--param needs NAME=VALUE')
            overrides.put(next.substring(0, next.indexOf('=')), next.substring(next.indexOf('=') + 1)); i++; break
        default:
            if (a.startsWith('-') || jenkinsfile != null) usage("unexpected argument ${a}")
            jenkinsfile = new File(a)
    }
}
if (jenkinsfile == null) usage('no Jenkinsfile given')
if (!jenkinsfile.isFile()) usage("${jenkinsfile} is not a file")
if (!varsDir.isDirectory()) usage("${varsDir} is not a directory")

Build b = new Build()
Build.current = b
workspace = workspace.canonicalFile
workspace.mkdirs()
b.workspace = workspace
b.cwd = workspace
b.tmp = new File(workspace.path + '@tmp')
b.tmp.mkdirs()
b.paramOverrides = overrides
b.env.putAll(System.getenv())
Map<String, String> defaults = [
    JOB_NAME: 'switchyard-harness',
    BUILD_NUMBER: '1',
    JENKINS_URL: 'http://jenkins.invalid/',
]
defaults.each { k, v -> if (!b.env.get(k)) b.env.put(k, v) }
if (!b.env.get('BUILD_ID')) b.env.put('BUILD_ID', b.env.get('BUILD_NUMBER'))
if (!b.env.get('BUILD_URL')) {
    b.env.put('BUILD_URL', "${b.env.get('JENKINS_URL')}job/${b.env.get('JOB_NAME')}/${b.env.get('BUILD_NUMBER')}/".toString())
}
b.env.put('WORKSPACE', workspace.path)
b.env.put('WORKSPACE_TMP', b.tmp.path)
if (credentialsFile != null) {
    Object creds = new JsonSlurper().parse(credentialsFile)
    if (!(creds instanceof Map)) usage("${credentialsFile}: expected a JSON object of credentials by ID")
    b.credentials = (Map) creds
}

CompilerConfiguration config = new CompilerConfiguration()
config.scriptBaseClass = PipelineScript.name
config.sourceEncoding = 'UTF-8'
GroovyShell shell = new GroovyShell(PipelineScript.classLoader, new Binding(), config)

int code
try {
    List<File> varFiles = (varsDir.listFiles() ?: new File[0]).findAll { it.name.endsWith('.groovy') }.sort { it.name }
    for (File f : varFiles) {
        Script s = shell.parse(f)
        s.binding = new Binding()
        b.vars.put(f.name.replaceFirst(/\.groovy$/, ''), s)
    }
    b.log("harness: library from ${varsDir}: ${b.vars.keySet().join(', ')}")

    // `@Library('switchyard') _` (or `@Library(...) import ...`): the vars are loaded already.
    String text = jenkinsfile.getText('UTF-8')
        .replaceAll(/@Library\s*\(([^)]*)\)\s*(_(?=\s))?/, '/* @Library($1): loaded by the harness */')
    b.log("harness: running ${jenkinsfile} in ${workspace}")
    Script pipelineScript = shell.parse(text, 'WorkflowScript')
    pipelineScript.binding = new Binding()
    pipelineScript.run()
} catch (AbortException e) {
    b.log("ERROR: ${e.message}")
    b.worsen('FAILURE')
} catch (InterruptedException e) {
    b.worsen('ABORTED')
} catch (Throwable t) {
    Declarative.describe(t)
    b.worsen('FAILURE')
}
String result = b.currentResult()
b.log("Finished: ${result}")
code = [SUCCESS: 0, FAILURE: 1, UNSTABLE: 2, ABORTED: 3, NOT_BUILT: 1][result]
System.exit(code)
