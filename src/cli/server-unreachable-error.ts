import { DstackError } from "../errors.js";

/** The CLI could not talk to the server at all: connection refused, unknown host, timed out. */
export class ServerUnreachableError extends DstackError {
  constructor(url: string, why: string, options?: { cause?: unknown }) {
    super(
      "unreachable",
      `cannot reach the dstack server at ${url} (${why}); is it running (\`npm start\`)? Set its address with DSTACK_URL or \`dstack config --url URL\``,
      options,
    );
  }
}
