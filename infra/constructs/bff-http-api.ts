import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import {
  CorsHttpMethod,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ApiFunctionName, ApiRoute } from '../../functions/api/routes.ts';

export interface BffHttpApiProps {
  stage: string;
  routes: readonly ApiRoute[];
  functions: Record<ApiFunctionName, IFunction>;
  /** Answers every request no route matches: 404, or 405 for a known path (contract §1). */
  fallbackFunction: ApiFunctionName;
  serverErrorAlarmThreshold: number;
  logRetention: RetentionDays;
  logRemovalPolicy: RemovalPolicy;
}

/**
 * The HTTP API the mobile app calls: one route per entry of functions/api/routes.ts, the
 * `$default` route for everything else, CORS for browser clients, JSON access logs, and an
 * alarm on 5xx answers.
 */
export class BffHttpApi extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly serverErrorAlarm: Alarm;

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

    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      // Tenants are limited per minute in code; this caps floods of unauthenticated calls.
      throttle: { rateLimit: 100, burstLimit: 200 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(
          new LogGroup(this, 'AccessLogs', {
            retention: props.logRetention,
            removalPolicy: props.logRemovalPolicy,
          }),
        ),
      },
    });

    for (const route of props.routes) {
      this.httpApi.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: integrationFor(route.handler),
      });
    }

    this.serverErrorAlarm = new Alarm(this, 'ServerErrorAlarm', {
      alarmDescription: `MakeIt3D BFF (${props.stage}): API 5xx answers`,
      metric: this.httpApi.metricServerError({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: props.serverErrorAlarmThreshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  /** The invoke URL of the `$default` stage. */
  get url(): string {
    return this.stage.url;
  }
}
