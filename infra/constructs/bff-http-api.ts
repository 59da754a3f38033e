import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  ApiMapping,
  type CfnStage,
  CorsHttpMethod,
  DomainName,
  HttpApi,
  HttpMethod,
  type HttpRoute,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ApiFunctionName, ApiRoute } from '../../functions/api/routes.ts';
import type { StageSettings, ThrottledRouteGroup } from '../stacks/stage-settings.ts';

/** The handlers whose routes get their own throttle (every other route takes the stage default). */
export const ROUTE_GROUP_OF: Partial<Record<ApiFunctionName, ThrottledRouteGroup>> = {
  'submit-generation': 'generation',
  'get-task-status': 'status',
  'register-api-key': 'registration',
};

/**
 * One JSON object per request (CloudWatch Logs Insights reads its fields): who, which route,
 * the answer and its latency, and, when the Lambda integration failed, why. `lambdaRequestId`
 * is the function invocation's request id, which its own log lines carry. No header, body or
 * query string is logged (API keys travel in a header).
 */
export const ACCESS_LOG_FIELDS: Record<string, string> = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationStatus: '$context.integrationStatus',
  integrationErrorMessage: '$context.integrationErrorMessage',
  lambdaRequestId: '$context.integration.requestId',
  errorMessage: '$context.error.message',
  errorResponseType: '$context.error.responseType',
};

export interface BffHttpApiProps {
  stage: string;
  routes: readonly ApiRoute[];
  functions: Record<ApiFunctionName, IFunction>;
  /** Answers every request no route matches: 404, or 405 for a known path (docs/api.md, Conventions). */
  fallbackFunction: ApiFunctionName;
  throttle: StageSettings['throttle'];
  customDomain?: StageSettings['customDomain'];
  logRetention: RetentionDays;
  logRemovalPolicy: RemovalPolicy;
}

/**
 * The HTTP API the mobile app calls: one route per entry of functions/api/routes.ts, the
 * `$default` route for everything else, CORS for browser clients, JSON access logs, throttling
 * per stage and per route, and an optional custom domain. Its alarms are in BffAlarms.
 */
export class BffHttpApi extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  readonly domainName?: DomainName;

  constructor(scope: Construct, id: string, props: BffHttpApiProps) {
    super(scope, id);
    // One integration per function, shared by its routes.
    const integrations = new Map<ApiFunctionName, HttpLambdaIntegration>();
    const integrationFor = (name: ApiFunctionName): HttpLambdaIntegration => {
      let integration = integrations.get(name);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${name}-integration`, props.functions[name]);
        integrations.set(name, integration);
      }
      return integration;
    };

    this.httpApi = new HttpApi(this, 'HttpApi', {
      apiName: `makeit3d-bff-${props.stage}`,
      description: `MakeIt3D BFF (${props.stage})`,
      defaultIntegration: integrationFor(props.fallbackFunction),
      // The stage below carries the access logs and throttling, which the default one cannot.
      createDefaultStage: false,
      corsPreflight: {
        // Keys travel in a header, never in cookies, so any origin may call.
        allowOrigins: ['*'],
        allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.OPTIONS],
        allowHeaders: ['Content-Type', 'X-API-Key', 'Idempotency-Key', 'Authorization'],
        exposeHeaders: ['x-request-id', 'Retry-After', 'WWW-Authenticate'],
        maxAge: Duration.days(1),
      },
    });

    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      // Tenants are limited per minute in code; these cap floods, unauthenticated ones included.
      throttle: props.throttle.default,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });

    const routes: HttpRoute[] = [];
    const routeSettings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    for (const route of props.routes) {
      routes.push(
        ...this.httpApi.addRoutes({
          path: route.path,
          methods: [HttpMethod[route.method]],
          integration: integrationFor(route.handler),
        }),
      );
      const group = ROUTE_GROUP_OF[route.handler];
      if (group) {
        routeSettings[`${route.method} ${route.path}`] = {
          ThrottlingRateLimit: props.throttle[group].rateLimit,
          ThrottlingBurstLimit: props.throttle[group].burstLimit,
        };
      }
    }
    // Route settings name route keys, which must exist before the stage refers to them.
    (this.stage.node.defaultChild as CfnStage).routeSettings = routeSettings;
    for (const route of routes) this.stage.node.addDependency(route);

    const authReason =
      'API keys are checked in the Lambda (a middy middleware) rather than by an API Gateway authorizer: the API needs exact 401 bodies (docs/api.md, Authentication and tenants) and per-tenant rate limits, and /health and /auth/register are public by design';
    const defaultRoute = this.httpApi.node.tryFindChild('DefaultRoute');
    for (const route of [...routes, ...(defaultRoute ? [defaultRoute] : [])]) {
      Validations.of(route).acknowledge({ id: 'AwsSolutions-APIG4', reason: authReason });
    }

    if (props.customDomain) {
      this.domainName = new DomainName(this, 'DomainName', {
        domainName: props.customDomain.domainName,
        certificate: Certificate.fromCertificateArn(this, 'Certificate', props.customDomain.certificateArn),
      });
      new ApiMapping(this, 'ApiMapping', {
        api: this.httpApi,
        domainName: this.domainName,
        stage: this.stage,
      });
    }
  }

  /** The invoke URL of the `$default` stage, without a trailing slash. */
  get url(): string {
    return this.httpApi.apiEndpoint;
  }

  /** The custom domain's URL, when the stage has one. */
  get customUrl(): string | undefined {
    return this.domainName ? `https://${this.domainName.name}` : undefined;
  }
}
