import { Probot, Server } from "probot";

/**
 * The baseline of the webhook-intake benchmark: a bare Probot 14 `Server` whose only handler does
 * nothing. APP_ID, PRIVATE_KEY, WEBHOOK_SECRET and PORT configure it; it prints `ready <port>`.
 */
async function main(): Promise<void> {
  const port = Number(process.env.PORT);
  const server = new Server({
    Probot: Probot.defaults({ appId: process.env.APP_ID, privateKey: process.env.PRIVATE_KEY, secret: process.env.WEBHOOK_SECRET, logLevel: "warn" }),
    port,
    host: "127.0.0.1",
  });
  await server.load((app) => {
    app.on("issue_comment.created", async () => undefined);
  });
  await server.start();
  process.stdout.write(`ready ${port}\n`);
  process.once("SIGTERM", () => {
    void server.stop().then(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bare-probot: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
