/// <reference types="@tarojs/taro" />

declare module '*.css';

declare namespace NodeJS {
  interface ProcessEnv {
    /**
     * The build target, replaced at build time. Optional in the type only: the client's tests type-check server
     * test helpers that build `ProcessEnv` objects of their own.
     */
    TARO_ENV?: 'weapp' | 'h5';
    /** The API base URL from client/.env*, replaced at build time. Empty on H5: the page's origin. */
    TARO_APP_API_URL?: string;
    /** `true`: users without a username are sent to the account page after the silent login. From client/.env*. */
    TARO_APP_REQUIRE_BINDING?: string;
  }
}
