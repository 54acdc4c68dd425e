package hyperlab.kernel;

import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeBuilder;
import java.lang.classfile.CodeElement;
import java.lang.classfile.MethodModel;
import java.lang.classfile.MethodTransform;
import java.lang.classfile.Opcode;
import java.lang.classfile.instruction.InvokeInstruction;
import java.lang.classfile.instruction.ReturnInstruction;
import java.lang.constant.ClassDesc;
import java.lang.constant.ConstantDescs;
import java.lang.constant.MethodTypeDesc;

/**
 * Rewrites the bytecode of JShell snippet classes before they load: captures the object each
 * {@code do_it$} returns, and turns {@code System.exit}/{@code Runtime.exit}/{@code halt} into an exception.
 */
final class SnippetWeaver {

    private static final String DO_IT = "do_it$";
    private static final ClassDesc HOOKS = ClassDesc.of(SnippetHooks.class.getName());
    private static final ClassDesc RUNTIME = ClassDesc.of("java.lang.Runtime");
    private static final MethodTypeDesc INT_VOID = MethodTypeDesc.of(ConstantDescs.CD_void, ConstantDescs.CD_int);
    private static final MethodTypeDesc RUNTIME_INT_VOID =
            MethodTypeDesc.of(ConstantDescs.CD_void, RUNTIME, ConstantDescs.CD_int);
    private static final MethodTypeDesc OBJECT_VOID = MethodTypeDesc.of(ConstantDescs.CD_void, ConstantDescs.CD_Object);

    private SnippetWeaver() {
    }

    static byte[] weave(byte[] classFile) {
        ClassFile cf = ClassFile.of();
        ClassTransform transform = (builder, element) -> {
            if (element instanceof MethodModel method) {
                boolean doIt = method.methodName().equalsString(DO_IT);
                builder.transformMethod(method, MethodTransform.transformingCode((code, e) -> rewrite(code, e, doIt)));
            } else {
                builder.with(element);
            }
        };
        return cf.transformClass(cf.parse(classFile), transform);
    }

    private static void rewrite(CodeBuilder code, CodeElement element, boolean doIt) {
        if (element instanceof InvokeInstruction call && isExit(call)) {
            if (call.opcode() == Opcode.INVOKESTATIC) {
                code.invokestatic(HOOKS, "exit", INT_VOID);
            } else {
                code.invokestatic(HOOKS, call.name().equalsString("halt") ? "runtimeHalt" : "runtimeExit",
                        RUNTIME_INT_VOID);
            }
            return;
        }
        if (doIt && element instanceof ReturnInstruction ret && ret.opcode() == Opcode.ARETURN) {
            code.dup();
            code.invokestatic(HOOKS, "capture", OBJECT_VOID);
        }
        code.with(element);
    }

    private static boolean isExit(InvokeInstruction call) {
        String owner = call.owner().asInternalName();
        String name = call.name().stringValue();
        String type = call.type().stringValue();
        if (!"(I)V".equals(type)) {
            return false;
        }
        return ("java/lang/System".equals(owner) && "exit".equals(name))
                || ("java/lang/Runtime".equals(owner) && ("exit".equals(name) || "halt".equals(name)));
    }
}
