/**
 * The buttons of a dstack check run. GitHub's limits: at most 3 actions, `label` and `identifier`
 * at most 20 characters, `description` at most 40. A click arrives as `check_run.requested_action`
 * with the identifier. https://docs.github.com/rest/checks/runs#create-a-check-run
 */
export const STOP_ACTION = { label: "Stop", identifier: "stop", description: "Stop this run and release its machine" } as const;
export const RERUN_ACTION = { label: "Re-run", identifier: "rerun", description: "Run this workflow again at this commit" } as const;

export type CheckRunActionId = typeof STOP_ACTION.identifier | typeof RERUN_ACTION.identifier;
