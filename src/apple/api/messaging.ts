import type {
  DefaultConfigurationRequest,
  DefaultConfigurationResponse,
  GetImageListResponse,
  GetMessageListResponse,
  ImageSize,
  PerformanceTestRequest,
  PerformanceTestResponse,
  PerformanceTestResultResponse,
  RealtimeUrlRequest,
  RealtimeUrlResponse,
  UploadMessageRequestBody,
} from './models.js';
import { type EnvSend, segment } from './request.js';

/** Apple's Retention Messaging API, served from the same hosts with the same token. */
export interface MessagingEndpoints {
  /** `image` is the PNG file's bytes. */
  uploadImage(imageIdentifier: string, image: Uint8Array, imageSize?: ImageSize): Promise<void>;
  deleteImage(imageIdentifier: string): Promise<void>;
  getImageList(): Promise<GetImageListResponse>;
  uploadMessage(messageIdentifier: string, request: UploadMessageRequestBody): Promise<void>;
  deleteMessage(messageIdentifier: string): Promise<void>;
  getMessageList(): Promise<GetMessageListResponse>;
  configureDefaultMessage(productId: string, locale: string, request: DefaultConfigurationRequest): Promise<void>;
  getDefaultMessage(productId: string, locale: string): Promise<DefaultConfigurationResponse>;
  deleteDefaultMessage(productId: string, locale: string): Promise<void>;
  configureRealtimeURL(request: RealtimeUrlRequest): Promise<void>;
  getRealtimeURL(): Promise<RealtimeUrlResponse>;
  deleteRealtimeURL(): Promise<void>;
  initiatePerformanceTest(request: PerformanceTestRequest): Promise<PerformanceTestResponse>;
  getPerformanceTestResults(requestId: string): Promise<PerformanceTestResultResponse>;
}

export function createMessagingEndpoints(send: EnvSend): MessagingEndpoints {
  const image = (id: string) => `/inApps/v1/messaging/image/${segment(id)}`;
  const message = (id: string) => `/inApps/v1/messaging/message/${segment(id)}`;
  const defaults = (productId: string, locale: string) => `/inApps/v1/messaging/default/${segment(productId)}/${segment(locale)}`;
  const realtime = '/inApps/v1/messaging/realtime/url';
  return {
    uploadImage: async (imageIdentifier, data, imageSize) =>
      send({
        endpoint: 'uploadImage',
        method: 'PUT',
        path: image(imageIdentifier),
        query: new URLSearchParams(imageSize === undefined ? {} : { imageSize }),
        binary: { data, contentType: 'image/png' },
        expectBody: false,
      }),
    deleteImage: async (imageIdentifier) => send({ endpoint: 'deleteImage', method: 'DELETE', path: image(imageIdentifier), expectBody: false }),
    getImageList: async () => send({ endpoint: 'getImageList', method: 'GET', path: '/inApps/v1/messaging/image/list', expectBody: true }),
    uploadMessage: async (messageIdentifier, request) =>
      send({ endpoint: 'uploadMessage', method: 'PUT', path: message(messageIdentifier), json: request, expectBody: false }),
    deleteMessage: async (messageIdentifier) => send({ endpoint: 'deleteMessage', method: 'DELETE', path: message(messageIdentifier), expectBody: false }),
    getMessageList: async () => send({ endpoint: 'getMessageList', method: 'GET', path: '/inApps/v1/messaging/message/list', expectBody: true }),
    configureDefaultMessage: async (productId, locale, request) =>
      send({
        endpoint: 'configureDefaultMessage',
        method: 'PUT',
        path: defaults(productId, locale),
        json: request,
        expectBody: false,
      }),
    getDefaultMessage: async (productId, locale) => send({ endpoint: 'getDefaultMessage', method: 'GET', path: defaults(productId, locale), expectBody: true }),
    deleteDefaultMessage: async (productId, locale) =>
      send({ endpoint: 'deleteDefaultMessage', method: 'DELETE', path: defaults(productId, locale), expectBody: false }),
    configureRealtimeURL: async (request) => send({ endpoint: 'configureRealtimeURL', method: 'PUT', path: realtime, json: request, expectBody: false }),
    getRealtimeURL: async () => send({ endpoint: 'getRealtimeURL', method: 'GET', path: realtime, expectBody: true }),
    deleteRealtimeURL: async () => send({ endpoint: 'deleteRealtimeURL', method: 'DELETE', path: realtime, expectBody: false }),
    initiatePerformanceTest: async (request) =>
      send({
        endpoint: 'initiatePerformanceTest',
        method: 'POST',
        path: '/inApps/v1/messaging/performanceTest',
        json: request,
        expectBody: true,
      }),
    getPerformanceTestResults: async (requestId) =>
      send({
        endpoint: 'getPerformanceTestResults',
        method: 'GET',
        path: `/inApps/v1/messaging/performanceTest/result/${segment(requestId)}`,
        expectBody: true,
      }),
  };
}
