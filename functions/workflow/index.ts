/**
 * The workflow Lambdas and the ASL placeholder each one fills: read by the CDK stack
 * (definitionSubstitutions) and by the local runner (which binds every Task to its handler).
 */
export const WORKFLOW_FUNCTIONS = {
  MarkTaskProcessingFunctionArn: 'mark-task-processing',
  RunProviderFunctionArn: 'run-provider',
  ProcessImageFunctionArn: 'process-image',
  SubmitProviderJobFunctionArn: 'submit-provider-job',
  PollProviderJobFunctionArn: 'poll-provider-job',
  AwaitProviderCallbackFunctionArn: 'await-provider-callback',
  CompleteTaskFunctionArn: 'complete-task',
  FailTaskFunctionArn: 'fail-task',
  RecordResultRowsFunctionArn: 'record-result-rows',
} as const;

export type WorkflowPlaceholder = keyof typeof WORKFLOW_FUNCTIONS;
export type WorkflowFunctionName = (typeof WORKFLOW_FUNCTIONS)[WorkflowPlaceholder];
