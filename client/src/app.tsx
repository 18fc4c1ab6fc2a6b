import { useDidShow } from '@tarojs/taro';
import type { PropsWithChildren } from 'react';
import { api } from './api/index.ts';
import './styles/weui.less';
import './app.css';

function App({ children }: PropsWithChildren) {
  // The auth link checks the session (Taro.checkSession / the server on H5) once per show.
  useDidShow(() => api.session.appShown());
  return children;
}

export default App;
