"""The Jupyter project's kernel test suite (jupyter_kernel_test) run against the HyperLab kernel,
plus protocol checks of our own: output streamed while a cell runs, interrupt, System.exit."""
import time
import unittest

import jupyter_kernel_test


class HyperLabKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "hyperlab"
    language_name = "java"
    file_extension = ".jshell"

    code_hello_world = 'System.out.println("hello, world");'
    code_stderr = 'System.err.println("oops");'
    code_generate_error = 'throw new IllegalStateException("boom");'
    code_execute_result = [
        {"code": "1 + 1", "result": "2"},
        {"code": '"hyper" + "lab"', "result": "hyperlab"},
        {"code": "List.of(1, 2, 3)", "result": "[1, 2, 3]"},
        {"code": "new java.awt.image.BufferedImage(4, 4, java.awt.image.BufferedImage.TYPE_INT_RGB)",
         "mime": "image/png"},
        {"code": 'Table.create("t", IntColumn.create("a", new int[] {1, 2}))', "mime": "text/html"},
    ]
    code_display_data = [
        {"code": 'display("shown");', "mime": "text/plain"},
        {"code": 'markdown("**bold**");', "mime": "text/markdown"},
        {"code": 'html("<b>bold</b>");', "mime": "text/html"},
        {"code": "var c = new XYChart(200, 100); c.addSeries(\"s\", new double[] {1, 2}, new double[] {2, 1}); display(c);",
         "mime": "image/png"},
    ]
    completion_samples = [{"text": "Math.ab", "matches": {"abs(", "absExact("}}]
    complete_code_samples = ["1 + 1", "int x = 1;\nx", "%lsmagic", "void f() { }"]
    incomplete_code_samples = ["for (int i = 0; i < 3; i++) {", "int f(int a) {", "String s = \"a\" +"]
    invalid_code_samples = ["int x = ;", ")))"]
    code_inspect_sample = "Math.abs"
    code_clear_output = 'System.out.println("soon gone");\nclearOutput(false);'
    code_history_pattern = "1 + *"
    supported_history_operations = ("tail", "range", "search")

    def run_cell(self, code, timeout=30):
        """Executes code; returns (reply, [(arrival_time, msg)]) for the cell's iopub messages."""
        self.flush_channels()
        msg_id = self.kc.execute(code)
        msgs = []
        while True:
            msg = self.kc.get_iopub_msg(timeout=timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            msgs.append((time.monotonic(), msg))
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        while True:
            reply = self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply, msgs

    def test_hyperlab_stdout_streams_while_the_cell_runs(self):
        reply, msgs = self.run_cell(
            'System.out.println("early");\n'
            'new Thread(() -> System.out.println("from a thread")).start();\n'
            "Thread.sleep(1500);\n"
            'System.out.println("late");')
        self.assertEqual(reply["content"]["status"], "ok")
        streams = [(t, m["content"]["text"]) for t, m in msgs if m["msg_type"] == "stream"]
        idle = msgs[-1][0]
        early = [t for t, text in streams if "early" in text]
        self.assertTrue(early, streams)
        self.assertGreater(idle - early[0], 1.0, "stdout arrived only at the end of the cell")
        self.assertTrue(any("from a thread" in text for _, text in streams), streams)

    def test_hyperlab_update_display(self):
        reply, msgs = self.run_cell('String id = display("step 0");\nfor (int i = 1; i <= 3; i++) updateDisplay(id, "step " + i);')
        self.assertEqual(reply["content"]["status"], "ok")
        shown = [m for _, m in msgs if m["msg_type"] == "display_data"]
        updates = [m for _, m in msgs if m["msg_type"] == "update_display_data"]
        self.assertEqual(len(shown), 1)
        self.assertEqual(len(updates), 3)
        self.assertEqual(updates[-1]["content"]["data"]["text/plain"], "step 3")
        self.assertEqual(updates[-1]["content"]["transient"]["display_id"], shown[0]["content"]["transient"]["display_id"])

    def test_hyperlab_compile_error_has_line_and_column(self):
        reply, _ = self.run_cell('int ok = 1;\nint bad = "s";')
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "CompileError")
        self.assertIn("line 2, column 11", reply["content"]["evalue"])

    def test_hyperlab_runtime_error_is_trimmed(self):
        reply, msgs = self.run_cell("int f(int a) {\n  return 1 / a;\n}\nf(0)")
        self.assertEqual(reply["content"]["ename"], "java.lang.ArithmeticException")
        tb = [m for _, m in msgs if m["msg_type"] == "error"][0]["content"]["traceback"]
        self.assertTrue(any("line 2)" in line for line in tb), tb)
        self.assertFalse(any("jdk.jshell" in line or "hyperlab.kernel" in line for line in tb), tb)

    def test_hyperlab_interrupt_stops_endless_loops(self):
        for loop in ("while (true) { }", "while (true) Thread.sleep(100);"):
            with self.subTest(loop=loop):
                self.flush_channels()
                msg_id = self.kc.execute(loop)
                time.sleep(1.0)
                self.km.interrupt_kernel()
                reply = self.kc.get_shell_msg(timeout=15)
                while reply["parent_header"].get("msg_id") != msg_id:
                    reply = self.kc.get_shell_msg(timeout=15)
                self.assertEqual(reply["content"]["status"], "error")
                self.assertEqual(reply["content"]["ename"], "Interrupted")
                after, _ = self.run_cell('"alive"')
                self.assertEqual(after["content"]["status"], "ok")

    def test_hyperlab_system_exit_leaves_the_kernel_alive(self):
        reply, _ = self.run_cell("System.exit(0)")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertIn("System.exit(0) was refused", reply["content"]["evalue"])
        self.assertTrue(self.km.is_alive())
        after, msgs = self.run_cell("40 + 2")
        results = [m for _, m in msgs if m["msg_type"] == "execute_result"]
        self.assertEqual(results[0]["content"]["data"]["text/plain"], "42")

    def test_hyperlab_djl_computes_in_the_kernel(self):
        reply, msgs = self.run_cell(
            "try (NDManager m = NDManager.newBaseManager()) {\n"
            "    NDArray a = m.arange(4f);\n"
            "    System.out.println(a.mul(a).sum().getFloat());\n"
            "}", timeout=120)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        text = "".join(m["content"]["text"] for _, m in msgs if m["msg_type"] == "stream")
        self.assertEqual(text.strip(), "14.0")

    def test_hyperlab_restart_gives_a_fresh_session(self):
        self.run_cell("int beforeRestart = 1;")
        self.km.restart_kernel(now=False)
        self.kc.wait_for_ready(timeout=60)
        reply, _ = self.run_cell("beforeRestart")
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "CompileError")
        after, msgs = self.run_cell("6 * 7")
        self.assertEqual([m["content"]["data"]["text/plain"] for _, m in msgs if m["msg_type"] == "execute_result"], ["42"])

    def test_hyperlab_huge_output_is_truncated(self):
        reply, msgs = self.run_cell('for (int i = 0; i < 400_000; i++) System.out.println("line " + i);')
        self.assertEqual(reply["content"]["status"], "ok")
        text = "".join(m["content"]["text"] for _, m in msgs if m["msg_type"] == "stream")
        self.assertIn("output truncated", text)
        self.assertLess(len(text), 5 * 1024 * 1024)


if __name__ == "__main__":
    unittest.main()
