/** The executable's entry point: the CLI (docs/api-reference.md §21). The only module with side effects. */
import { runCli } from "./cli/index";

const code = await runCli(process.argv.slice(2), process.env);
process.exit(code);
