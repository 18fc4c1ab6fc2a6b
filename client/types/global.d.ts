/// <reference types="@tarojs/taro" />

declare module '*.css';

declare namespace NodeJS {
  interface ProcessEnv {
    /** The build target, replaced at build time. */
    TARO_ENV: 'weapp' | 'h5';
    /** The API base URL from client/.env*, replaced at build time. Empty on H5: the page's origin. */
    TARO_APP_API_URL?: string;
  }
}
