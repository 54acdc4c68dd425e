package hyperlab.kernel;

import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.dflib.jjava.jupyter.channels.ShellReplyEnvironment;
import org.dflib.jjava.jupyter.kernel.BaseKernel;
import org.dflib.jjava.jupyter.kernel.BaseKernelBuilder;
import org.dflib.jjava.jupyter.kernel.LanguageInfo;
import org.dflib.jjava.jupyter.kernel.ReplacementOptions;
import org.dflib.jjava.jupyter.kernel.comm.CommManager;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;
import org.dflib.jjava.jupyter.kernel.display.Renderer;
import org.dflib.jjava.jupyter.kernel.display.mime.MIMEType;
import org.dflib.jjava.jupyter.kernel.history.HistoryEntry;
import org.dflib.jjava.jupyter.kernel.history.HistoryManager;
import org.dflib.jjava.jupyter.kernel.magic.MagicParser;
import org.dflib.jjava.jupyter.kernel.magic.MagicsRegistry;
import org.dflib.jjava.jupyter.kernel.util.StringStyler;
import org.dflib.jjava.jupyter.kernel.magic.UndefinedMagicException;
import org.dflib.jjava.jupyter.messages.Message;
import org.dflib.jjava.jupyter.messages.publish.PublishClearOutput;
import org.dflib.jjava.jupyter.messages.publish.PublishError;
import org.dflib.jjava.jupyter.messages.publish.PublishExecuteInput;
import org.dflib.jjava.jupyter.messages.publish.PublishExecuteResult;
import org.dflib.jjava.jupyter.messages.reply.ErrorReply;
import org.dflib.jjava.jupyter.messages.reply.ExecuteReply;
import org.dflib.jjava.jupyter.messages.request.ExecuteRequest;
import org.dflib.jjava.jupyter.messages.request.HistoryRequest;
import org.dflib.jjava.jupyter.messages.request.KernelInfoRequest;

/**
 * The HyperLab Jupyter kernel: jjava's protocol layer around an in-process JShell, with rich
 * display of images, charts and tables, magics, and errors that point at cell lines.
 */
public final class HyperLabKernel extends BaseKernel {

    /** Per-cell stdout+stderr budget; beyond it output is cut with a notice. */
    static final long MAX_OUTPUT_BYTES = 4L << 20;
    private static final String PROTOCOL_VERSION = "5.3";

    /** JShell starts in the background so the kernel answers kernel_info at once; cells wait for it. */
    private final CompletableFuture<Evaluator> evaluator;
    private final CompletableFuture<CodeAssist> assist;
    private final AttachableIO attachableIO;
    /** The execute request being served, for messages the display stream cannot send (clear_output). */
    private volatile ShellReplyEnvironment currentEnv;

    private HyperLabKernel(String name, String version, AttachableIO io, CommManager comms, Renderer renderer,
            MagicParser parser, MagicsRegistry magics, StringStyler errorStyler) {
        // Extensions: jars on the kernel's class path can register renderers via ServiceLoader (onStartup).
        super(name, version, languageInfo(), List.of(), new SessionHistory(), io, comms, renderer, parser, magics, true,
                errorStyler);
        this.attachableIO = io;
        this.evaluator = CompletableFuture.supplyAsync(
                () -> new Evaluator(DefaultImports.resolve(HyperLabKernel.class.getClassLoader())),
                r -> Thread.ofPlatform().name("jshell-start").daemon().start(r));
        this.assist = evaluator.thenApply(CodeAssist::new);
        Renderers.registerAll(renderer);
        Display.attach(this);
    }

    public static Builder builder() {
        return new Builder();
    }

    private static LanguageInfo languageInfo() {
        return new LanguageInfo("java", Runtime.version().toString(), "text/x-java-source", ".jshell", "java",
                "java", "script");
    }

    @Override
    public String getBanner() {
        return "HyperLab Java " + Runtime.version() + " kernel (JShell). Try %lsmagic, display(x), markdown(s).";
    }

    /** Runs a cell's code (magics included); {@code firstLine} is the cell line the code starts on. */
    CellValue runCode(String code, int firstLine) throws CellError {
        CellSource src = CellSource.parse(code);
        if (src.cellMagic() != null) {
            return magicValue(() -> magicsRegistry.evalCellMagic(this, src.cellMagic(), src.cellMagicArgs(), src.body()),
                    "%%" + src.cellMagic());
        }
        CellValue last = CellValue.NONE;
        for (CellSource.Part part : src.parts()) {
            last = part.magic() == null
                    ? evaluator.join().eval(part.code(), firstLine + part.firstLine() - 1)
                    : magicValue(() -> magicsRegistry.evalLineMagic(this, part.magic(), part.args()), "%" + part.magic());
        }
        return last;
    }

    private interface MagicCall {
        Object call() throws Exception;
    }

    private static CellValue magicValue(MagicCall call, String name) throws CellError {
        try {
            Object v = call.call();
            return v == null ? CellValue.NONE : CellValue.of(v);
        } catch (CellError e) {
            throw e;
        } catch (UndefinedMagicException e) {
            String msg = "unknown magic " + name + " (%lsmagic lists the magics)";
            throw new CellError("UnknownMagic", msg, List.of(msg));
        } catch (Exception e) {
            String msg = name + " failed: " + e.getMessage();
            throw new CellError("MagicError", msg, List.of(msg));
        }
    }

    void clearOutput(boolean wait) {
        ShellReplyEnvironment env = currentEnv;
        if (env == null) {
            throw new IllegalStateException("clearOutput works only while a cell runs");
        }
        System.out.flush();
        System.err.flush();
        env.publish(wait ? PublishClearOutput.BEFORE_NEXT_OUTPUT : PublishClearOutput.NOW);
    }

    void addToClasspath(Path path) {
        evaluator.join().addToClasspath(path.toString());
    }

    @Override
    public Object evalRaw(String code) {
        try {
            CellValue v = runCode(code, 1);
            return v.present() ? v.value() : null;
        } catch (CellError e) {
            throw new IllegalStateException(e.ename() + ": " + e.evalue(), e);
        }
    }

    @Override
    protected synchronized void handleExecuteRequest(ShellReplyEnvironment env, Message<ExecuteRequest> message) {
        commManager.setMessageContext(message);
        ExecuteRequest request = message.getContent();
        int count = executionCount.getAndIncrement();
        env.setBusyDeferIdle();
        env.publish(new PublishExecuteInput(request.getCode(), count));
        replaceOutputStreams(env);
        attachableIO.attach(env, request.isStdinEnabled());
        currentEnv = env;
        env.defer(() -> {
            currentEnv = null;
            attachableIO.detach(env);
        });
        try {
            CellValue v = runCode(request.getCode(), 1);
            System.out.flush();
            System.err.flush();
            DisplayData result = v.present() ? renderer.render(v.value()) : null;
            if (result != null && !request.isSilent()) {
                env.publish(new PublishExecuteResult(count, result));
            }
            if (request.shouldStoreHistory()) {
                Object text = result == null ? null : result.getData(MIMEType.TEXT_PLAIN);
                ((SessionHistory) historyManager).add(count, request.getCode(), text == null ? null : text.toString());
            }
            env.defer().reply(new ExecuteReply(count, Map.of()));
        } catch (CellError e) {
            replyError(env, count, e.ename(), e.evalue(), e.traceback());
        } catch (RuntimeException e) {
            String msg = "the kernel failed to handle this cell: " + e;
            replyError(env, count, e.getClass().getName(), msg, List.of(msg));
        }
    }

    private static void replyError(ShellReplyEnvironment env, int count, String ename, String evalue,
            List<String> traceback) {
        System.out.flush();
        System.err.flush();
        env.publish(new PublishError(ename, evalue, traceback));
        ErrorReply reply = new ErrorReply(ename, evalue, traceback);
        reply.setExecutionCount(count);
        env.defer().replyError(ExecuteReply.MESSAGE_TYPE.error(), reply);
    }

    /** Like jjava's, but through an {@link OutputLimit} so a print loop cannot flood the notebook. */
    @Override
    protected void replaceOutputStreams(ShellReplyEnvironment env) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        InputStream in = System.in;
        OutputLimit limit = new OutputLimit(MAX_OUTPUT_BYTES);
        System.setOut(limit.wrap(io.out));
        System.setErr(limit.wrap(io.err));
        System.setIn(io.in);
        env.defer(() -> {
            limit.close();
            System.setOut(out);
            System.setErr(err);
            System.setIn(in);
        });
    }

    @Override
    protected void handleKernelInfoRequest(ShellReplyEnvironment env, Message<KernelInfoRequest> message) {
        env.setBusyDeferIdle();
        env.reply(new KernelInfoOk(PROTOCOL_VERSION, name, version, getLanguageInfo(), getBanner(), getHelpLinks()));
    }

    @Override
    protected void handleHistoryRequest(ShellReplyEnvironment env, Message<HistoryRequest> message) {
        env.setBusyDeferIdle();
        HistoryRequest request = message.getContent();
        Set<HistoryManager.ResultFlag> flags = EnumSet.noneOf(HistoryManager.ResultFlag.class);
        if (request.includeOutput()) {
            flags.add(HistoryManager.ResultFlag.INCLUDE_OUTPUT);
        }
        List<HistoryEntry> found = switch (request) {
            case HistoryRequest.Tail t -> historyManager.lookupTail(t.getMaxReturnLength(), flags);
            case HistoryRequest.Range r -> historyManager.lookupRange(r.getSessionIndex(), r.getStart(), r.getStop(), flags);
            case HistoryRequest.Search s -> {
                if (s.filterUnique()) {
                    flags.add(HistoryManager.ResultFlag.UNIQUE);
                }
                yield historyManager.search(s.getPattern(), s.getMaxReturnLength(), flags);
            }
            default -> List.of();
        };
        env.reply(new HistoryReplyOk(found));
    }

    @Override
    public DisplayData inspect(String code, int at, boolean extraDetail) {
        String doc = assist.join().inspect(code, at);
        return doc.isEmpty() ? null : new DisplayData(doc);
    }

    @Override
    public ReplacementOptions complete(String code, int at) {
        CodeAssist.Completions c = assist.join().complete(code, at);
        return c.options().isEmpty() ? null : new ReplacementOptions(c.options(), c.start(), c.end());
    }

    @Override
    public String isComplete(String code) {
        return assist.join().isComplete(code);
    }

    @Override
    public void interrupt() {
        if (evaluator.isDone()) {
            evaluator.join().stop();
        }
    }

    @Override
    public void onShutdown(boolean restart) {
        if (evaluator.isDone()) {
            evaluator.join().close();
        }
    }

    /** Builds the kernel with HyperLab's name, UTF-8 streams and magics. */
    public static final class Builder extends BaseKernelBuilder<Builder, HyperLabKernel> {

        Builder() {
            name("HyperLab");
            version(Builder.class.getPackage().getImplementationVersion() == null
                    ? "dev" : Builder.class.getPackage().getImplementationVersion());
            jupyterIOEncoding(StandardCharsets.UTF_8);
            Magics.registerAll(this);
        }

        @Override
        public HyperLabKernel build() {
            return new HyperLabKernel(buildName(), buildVersion(), new AttachableIO(buildJupyterIOEncoding()),
                    buildCommManager(), buildRenderer(), new MagicParser("^\\s*%", "%%", buildMagicTranspiler()),
                    buildMagicsRegistry(), buildErrorStyler());
        }
    }
}
