import { Text, View } from '@tarojs/components';
import type { PropsWithChildren } from 'react';

/** A WeUI form row: the label on the left, the control on the right, drawn in WeUI's warning style when `warn`. */
export function FormCell(props: PropsWithChildren<{ label: string; warn: boolean }>) {
  return (
    <View className={props.warn ? 'weui-cell weui-cell_active weui-cell_warn' : 'weui-cell weui-cell_active'}>
      <View className='weui-cell__hd'>
        <Text className='weui-label'>{props.label}</Text>
      </View>
      <View className='weui-cell__bd'>{props.children}</View>
    </View>
  );
}
